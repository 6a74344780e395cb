# The hub's container image. Configuration comes only from the environment (HUB_*, see the
# README's settings table); in a container, point it at a Kafka cluster (KAFKA_BOOTSTRAP_SERVERS),
# a database (HUB_DATABASE_URL) and an OpenID Connect issuer (HUB_AUTH__ISSUER), since the local
# broker and identity provider that `hub run` starts on a workstation need Java and Maven.

FROM python:3.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY hub ./hub
COPY adapters ./adapters
COPY schemas ./schemas
# Every dependency as a wheel, so the final stage installs without compilers or network.
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim-bookworm
RUN useradd --system --uid 10001 --create-home --home-dir /app --shell /usr/sbin/nologin hub
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index /wheels/*.whl && rm -rf /wheels
WORKDIR /app
USER 10001
ENV PYTHONUNBUFFERED=1 \
    HUB_HTTP_HOST=0.0.0.0 \
    HUB_HTTP_PORT=8080
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/readyz', timeout=2).status != 200)"]
ENTRYPOINT ["hub"]
CMD ["run"]
