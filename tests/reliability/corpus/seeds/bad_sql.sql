--
-- PostgreSQL database dump (hand-made for dbci's bad-input corpus)
--

SET statement_timeout = 0;
SET client_encoding = 'UTF8';

CREATE TABLE public.alembic_version (
    version_num character varying(32) NOT NULL
);

COPY public.alembic_version (version_num) FROM stdin;
12_7cd45af4a41d
\.

CREATE TABLE persistence_schema.oops (;

--
-- PostgreSQL database dump complete
--
