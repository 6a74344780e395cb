import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.context.support.DefaultProfileValidationSupport;
import ca.uhn.fhir.validation.FhirValidator;
import ca.uhn.fhir.validation.SingleValidationMessage;
import ca.uhn.fhir.validation.ValidationResult;
import java.nio.file.Files;
import java.nio.file.Path;
import org.hl7.fhir.common.hapi.validation.support.CommonCodeSystemsTerminologyService;
import org.hl7.fhir.common.hapi.validation.support.InMemoryTerminologyServerValidationSupport;
import org.hl7.fhir.common.hapi.validation.support.SnapshotGeneratingValidationSupport;
import org.hl7.fhir.common.hapi.validation.support.ValidationSupportChain;
import org.hl7.fhir.common.hapi.validation.validator.FhirInstanceValidator;

/**
 * Validates FHIR R4 JSON resources against the R4 core definitions, offline, with HAPI FHIR's
 * instance validator. Prints one tab-separated line per message: file, severity, location, text.
 */
public final class Validate {
  public static void main(String[] args) throws Exception {
    FhirContext context = FhirContext.forR4();
    ValidationSupportChain support =
        new ValidationSupportChain(
            new DefaultProfileValidationSupport(context),
            new CommonCodeSystemsTerminologyService(context),
            new InMemoryTerminologyServerValidationSupport(context),
            new SnapshotGeneratingValidationSupport(context));
    FhirInstanceValidator instance = new FhirInstanceValidator(support);
    instance.setAnyExtensionsAllowed(true);
    FhirValidator validator = context.newValidator().registerValidatorModule(instance);
    for (String file : args) {
      ValidationResult result = validator.validateWithResult(Files.readString(Path.of(file)));
      for (SingleValidationMessage message : result.getMessages()) {
        System.out.println(
            String.join(
                "\t",
                file,
                message.getSeverity().getCode(),
                String.valueOf(message.getLocationString()),
                message.getMessage().replace('\n', ' ').replace('\t', ' ')));
      }
      System.out.println(file + "\tdone\t\t");
    }
  }
}
