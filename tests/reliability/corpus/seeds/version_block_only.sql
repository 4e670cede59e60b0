COPY public.alembic_version (version_num) FROM stdin;
14_3a5e33b5fa4a
\.
