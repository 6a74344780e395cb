import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.rest.api.MethodOutcome;
import ca.uhn.fhir.rest.client.api.IGenericClient;
import ca.uhn.fhir.rest.client.interceptor.BearerTokenAuthInterceptor;
import ca.uhn.fhir.rest.gclient.TokenClientParam;
import java.nio.file.Files;
import java.nio.file.Path;
import org.hl7.fhir.r4.model.Bundle;
import org.hl7.fhir.r4.model.CapabilityStatement;
import org.hl7.fhir.r4.model.MessageHeader;
import org.hl7.fhir.r4.model.Task;

/**
 * An NHS provider's system as HAPI FHIR's generic client builds one: read the hub's
 * CapabilityStatement, search the provider's own Tasks, accept one, and answer it with an advice
 * message through $process-message. Prints one line per step for the test to check.
 *
 * <p>Arguments: the hub's FHIR base URL, the provider's ODS code, the advice message Bundle (JSON);
 * the bearer token is in HUB_TOKEN.
 */
public final class ProviderClient {
  private static final String ODS = "https://fhir.nhs.uk/Id/ods-organization-code";

  public static void main(String[] args) throws Exception {
    FhirContext context = FhirContext.forR4();
    IGenericClient client = context.newRestfulGenericClient(args[0]);
    client.registerInterceptor(new BearerTokenAuthInterceptor(System.getenv("HUB_TOKEN")));

    CapabilityStatement capability = client.capabilities().ofType(CapabilityStatement.class).execute();
    System.out.println("capability " + capability.getFhirVersion().toCode());

    Bundle found =
        client
            .search()
            .forResource(Task.class)
            .where(new TokenClientParam("owner").exactly().systemAndCode(ODS, args[1]))
            .and(new TokenClientParam("status").exactly().code("requested"))
            .returnBundle(Bundle.class)
            .execute();
    System.out.println("tasks " + found.getEntry().size());
    Task task = (Task) found.getEntryFirstRep().getResource();

    task.setStatus(Task.TaskStatus.ACCEPTED);
    MethodOutcome updated = client.update().resource(task).execute();
    System.out.println("updated " + ((Task) updated.getResource()).getStatus().toCode());

    Bundle message = context.newJsonParser().parseResource(Bundle.class, Files.readString(Path.of(args[2])));
    Bundle response =
        client.operation().processMessage().setMessageBundle(message).synchronous(Bundle.class).execute();
    MessageHeader header = (MessageHeader) response.getEntryFirstRep().getResource();
    System.out.println("response " + header.getResponse().getCode().toCode());
  }
}
