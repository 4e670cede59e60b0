--
-- PostgreSQL database dump
--

CREATE TABLE public.alembic_version (version_num character varying(32) NOT NULL);

COPY public.alembic_version (version_num) FROM stdin;
14_3a5e33b5fa4a
\.

this line is junk, not SQL;

--
-- PostgreSQL database dump complete
--
