--
-- PostgreSQL database dump
--

CREATE TABLE public.alembic_version (version_num character varying(32) NOT NULL);

COPY public.alembic_version (version_num) FROM stdin;
14_3a5e33b5fa4a
\.

UPDATE public.alembic_version SET version_num = '01_2d1455f47d8e';

--
-- PostgreSQL database dump complete
--
