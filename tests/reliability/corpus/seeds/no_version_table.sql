--
-- PostgreSQL database dump (hand-made for dbci's bad-input corpus)
--

SET statement_timeout = 0;
SET client_encoding = 'UTF8';

CREATE TABLE public.things (id integer);

