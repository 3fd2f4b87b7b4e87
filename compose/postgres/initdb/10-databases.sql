-- Run by the postgres image on first start (empty data directory), as POSTGRES_USER.
-- One server, two metadata databases: MLflow's backend store and Airflow's metadata database.
CREATE DATABASE airflow;
CREATE DATABASE mlflow;
