-- Runs once, when the postgres volume is first initialised (/docker-entrypoint-initdb.d), as
-- POSTGRES_USER (dataplat), who therefore owns both databases.
--
-- shop:    the CDC source database (POSTGRES_DB of the dataplat services).
-- dagster: Dagster's runs, event logs and schedules (DAGSTER_PG_DB; dagster.postgres.yaml).
CREATE DATABASE shop;
CREATE DATABASE dagster;
