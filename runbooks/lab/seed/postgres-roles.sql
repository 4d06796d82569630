-- The old Ocean app's role and database, made anew on every seed (run as postgres).
-- The password comes from the environment (psql's \getenv), never from a command line.
\set ON_ERROR_STOP 1
\getenv pw LAB_PG_PASSWORD
DROP DATABASE IF EXISTS ocean WITH (FORCE);
DROP ROLE IF EXISTS ocean;
CREATE ROLE ocean LOGIN PASSWORD :'pw';
CREATE DATABASE ocean OWNER ocean ENCODING 'UTF8' TEMPLATE template0;
