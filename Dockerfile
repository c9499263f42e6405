# syntax=docker/dockerfile:1.7
# The dataplat image: simulators, the continuous ingest service and every Dagster process
# (code server, webserver, daemon) run from it; docker-compose.yml picks the command.
#
#   docker build -t dataplat:local .
#
# Two stages: Maven resolves the JVM jars at build time (nothing is downloaded when Spark
# starts), then a slim Python image with a Java 17 runtime gets the project.

# -- 1. JVM jars: `mvn -f jvm/pom.xml package` copies them to /src/.jars/{kafka,spark} -------------
FROM maven:3.9-eclipse-temurin-17 AS jars
WORKDIR /src
COPY jvm/ jvm/
RUN --mount=type=cache,target=/root/.m2 \
    mvn -B -q -f jvm/pom.xml package \
    && test -n "$(ls .jars/spark/delta-spark_*.jar)" \
    && test -n "$(ls .jars/kafka/kafka_*.jar)"

# -- 2. runtime -----------------------------------------------------------------------------------
# bookworm, not the current default (trixie) of python:3.11-slim: trixie ships only Java 21/25,
# and openjdk-17-jre-headless is the runtime this project tests Spark 4.2 and Kafka 4.1 with.
FROM python:3.11-slim-bookworm AS runtime

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    JAVA_HOME=/opt/java

# openjdk's postinst expects man1 on slim images; tini reaps Spark's JVM children and forwards
# SIGTERM so `docker stop` lets the ingest service and simulators drain; procps gives Spark `ps`.
RUN mkdir -p /usr/share/man/man1 \
    && apt-get update \
    && apt-get install -y --no-install-recommends openjdk-17-jre-headless tini procps \
    && rm -rf /var/lib/apt/lists/* \
    && ln -s "$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")" /opt/java \
    && java -version

WORKDIR /opt/dataplat

# Dependencies first, from pyproject.toml alone, so code changes do not reinstall them
# (pyspark 4.2.0 is a 450 MB source distribution; the cache mount keeps its built wheel).
COPY pyproject.toml ./
RUN --mount=type=cache,target=/root/.cache/pip \
    python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt

# The project itself, editable: PROJECT_ROOT stays /opt/dataplat, where infra/ and .jars/ are.
COPY . .
COPY --from=jars /src/.jars /opt/dataplat/.jars
RUN pip install --no-deps -e . \
    && python -c "import dataplat.cli, dataplat.definitions"

# Dagster's instance: Postgres storage configured from DAGSTER_PG_* (see docker-compose.yml).
ENV DAGSTER_HOME=/opt/dagster/home \
    DATAPLAT_HOME=/data/dataplat \
    DATAPLAT_LAKE_URI=/data/lake \
    DATAPLAT_JARS_DIR=/opt/dataplat/.jars
COPY infra/dagster/dagster.postgres.yaml /opt/dagster/home/dagster.yaml

# A non-root user owns only what it writes: state, the lake and Dagster's local storage (named
# volumes mounted on these folders start with this ownership), and the working directory itself,
# not recursively, for files Spark may create there (spark-warehouse/); the code stays root's.
RUN groupadd --system --gid 10001 dataplat \
    && useradd --system --uid 10001 --gid dataplat --create-home --home-dir /home/dataplat dataplat \
    && mkdir -p /data/dataplat /data/lake /opt/dagster/home/storage \
    && chown -R dataplat:dataplat /data /opt/dagster/home \
    && chown dataplat:dataplat /opt/dataplat
USER dataplat

ENTRYPOINT ["tini", "--"]
CMD ["dataplat", "--help"]
