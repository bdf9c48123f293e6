-- A database made by Crossdesk's release 151fffb (before migrations), PostgreSQL form.
-- Made by that release's SQLStore (metadata.create_all) and store API on PostgreSQL 15, dumped
-- with pg_dump --inserts --no-owner --no-privileges (psql-only lines removed). Same content as
-- release-151fffb.sql. Never edit: tests/test_migrations.py upgrades it in place.

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

SET default_tablespace = '';

SET default_table_access_method = heap;

-- Name: agent_tokens; Type: TABLE; Schema: public; Owner: -

CREATE TABLE public.agent_tokens (
    token_hash character varying(64) NOT NULL,
    agent_id integer NOT NULL,
    expires_at double precision NOT NULL
);

-- Name: agents; Type: TABLE; Schema: public; Owner: -

CREATE TABLE public.agents (
    id integer NOT NULL,
    username character varying(64) NOT NULL,
    password_hash character varying(256) NOT NULL,
    display_name character varying(128) NOT NULL,
    languages text NOT NULL,
    role character varying(16) NOT NULL,
    created_at double precision NOT NULL
);

-- Name: agents_id_seq; Type: SEQUENCE; Schema: public; Owner: -

CREATE SEQUENCE public.agents_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

-- Name: agents_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -

ALTER SEQUENCE public.agents_id_seq OWNED BY public.agents.id;

-- Name: conversations; Type: TABLE; Schema: public; Owner: -

CREATE TABLE public.conversations (
    id character varying(64) NOT NULL,
    state character varying(16) NOT NULL,
    language character varying(16),
    locale character varying(35),
    context text NOT NULL,
    agent_id integer,
    handoff_reason character varying(64),
    waiting_since double precision,
    created_at double precision NOT NULL,
    updated_at double precision NOT NULL
);

-- Name: messages; Type: TABLE; Schema: public; Owner: -

CREATE TABLE public.messages (
    id integer NOT NULL,
    conversation_id character varying(64) NOT NULL,
    sender character varying(16) NOT NULL,
    text text NOT NULL,
    language character varying(16),
    client_id character varying(64),
    data text NOT NULL,
    created_at double precision NOT NULL
);

-- Name: messages_id_seq; Type: SEQUENCE; Schema: public; Owner: -

CREATE SEQUENCE public.messages_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

-- Name: messages_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -

ALTER SEQUENCE public.messages_id_seq OWNED BY public.messages.id;

-- Name: transitions; Type: TABLE; Schema: public; Owner: -

CREATE TABLE public.transitions (
    id integer NOT NULL,
    conversation_id character varying(64) NOT NULL,
    from_state character varying(16),
    to_state character varying(16) NOT NULL,
    actor character varying(64) NOT NULL,
    reason character varying(64) NOT NULL,
    created_at double precision NOT NULL
);

-- Name: transitions_id_seq; Type: SEQUENCE; Schema: public; Owner: -

CREATE SEQUENCE public.transitions_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

-- Name: transitions_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -

ALTER SEQUENCE public.transitions_id_seq OWNED BY public.transitions.id;

-- Name: agents id; Type: DEFAULT; Schema: public; Owner: -

ALTER TABLE ONLY public.agents ALTER COLUMN id SET DEFAULT nextval('public.agents_id_seq'::regclass);

-- Name: messages id; Type: DEFAULT; Schema: public; Owner: -

ALTER TABLE ONLY public.messages ALTER COLUMN id SET DEFAULT nextval('public.messages_id_seq'::regclass);

-- Name: transitions id; Type: DEFAULT; Schema: public; Owner: -

ALTER TABLE ONLY public.transitions ALTER COLUMN id SET DEFAULT nextval('public.transitions_id_seq'::regclass);

-- Data for Name: agent_tokens; Type: TABLE DATA; Schema: public; Owner: -

INSERT INTO public.agent_tokens VALUES ('b40bd4dd2106ee5113df72a4cecc938db0b6068931188cab962785d1e15377b1', 1, 4102444800);

-- Data for Name: agents; Type: TABLE DATA; Schema: public; Owner: -

INSERT INTO public.agents VALUES (1, 'yuki', 'scrypt$efb54a7f8ce2ce6e0f2bdd2937d1dd74$deb87243648cba5c39e0353c0a813d00bd70d1a76804b80ebbedb97814a96082', 'Yuki 佐藤', '["ja", "en"]', 'admin', 1796569048.2478569);
INSERT INTO public.agents VALUES (2, 'marie', 'scrypt$c007a7041cd9cf44586ba3cbf31c4b0a$86b5b0295825a68067ef41bc2d5ce7596d43ea535f9471841ed07d7a50b3e2a3', 'Marie Dupont', '["fr", "en"]', 'agent', 1796569048.3312345);

-- Data for Name: conversations; Type: TABLE DATA; Schema: public; Owner: -

INSERT INTO public.conversations VALUES ('legacy-session-0001', 'resolved', 'ja', 'ja-JP', '{"page": "https://shop.example/ja/items/42", "title": "\u30a6\u30fc\u30eb\u306e\u30b3\u30fc\u30c8"}', 1, 'request_human', 1796569048.3508258, 1796569048.338765, 1796569048.359182);
INSERT INTO public.conversations VALUES ('legacy-session-0002', 'bot', 'fr', 'fr-FR', '{}', NULL, NULL, NULL, 1796569048.3621712, 1796569048.3646922);

-- Data for Name: messages; Type: TABLE DATA; Schema: public; Owner: -

INSERT INTO public.messages VALUES (1, 'legacy-session-0001', 'shopper', 'ドイツへの配送はどのくらいかかりますか？', 'ja', 'm-1', '{"intent": "shipping_time", "confidence": 0.97, "entities": [{"entity": "country", "value": "DE"}]}', 1796569048.3449423);
INSERT INTO public.messages VALUES (2, 'legacy-session-0001', 'bot', 'ドイツへは通常5〜7営業日でお届けします。', 'ja', NULL, '{}', 1796569048.3468518);
INSERT INTO public.messages VALUES (3, 'legacy-session-0001', 'shopper', '担当者と話したいです 🙏', 'ja', 'm-2', '{"intent": "request_human", "confidence": 0.91}', 1796569048.348757);
INSERT INTO public.messages VALUES (4, 'legacy-session-0001', 'bot', '担当者におつなぎします。少々お待ちください。', 'ja', NULL, '{}', 1796569048.3494725);
INSERT INTO public.messages VALUES (5, 'legacy-session-0001', 'system', 'Yuki 佐藤 joined', NULL, NULL, '{"event": "agent_joined"}', 1796569048.354381);
INSERT INTO public.messages VALUES (6, 'legacy-session-0001', 'agent', 'こんにちは、Yukiです。ご注文番号を教えていただけますか？', 'ja', NULL, '{"agent": "yuki", "original": "Hello, this is Yuki. Could you tell me your order number?", "original_language": "en"}', 1796569048.3578289);
INSERT INTO public.messages VALUES (7, 'legacy-session-0001', 'shopper', '注文番号は A-10023 です。Grüße, Zoë ✨', 'ja', 'm-3', '{}', 1796569048.358532);
INSERT INTO public.messages VALUES (8, 'legacy-session-0002', 'shopper', 'Quels moyens de paiement acceptez-vous ?', 'fr', 'f-1', '{"intent": "payment_methods", "confidence": 0.88}', 1796569048.365531);
INSERT INTO public.messages VALUES (9, 'legacy-session-0002', 'bot', 'Nous acceptons la carte, PayPal et Apple Pay.', 'fr', NULL, '{}', 1796569048.3661995);

-- Data for Name: transitions; Type: TABLE DATA; Schema: public; Owner: -

INSERT INTO public.transitions VALUES (1, 'legacy-session-0001', NULL, 'bot', 'shopper', 'session_start', 1796569048.338765);
INSERT INTO public.transitions VALUES (2, 'legacy-session-0001', 'bot', 'waiting', 'bot', 'request_human', 1796569048.3508258);
INSERT INTO public.transitions VALUES (3, 'legacy-session-0001', 'waiting', 'with_agent', 'agent:yuki', 'claimed', 1796569048.3551052);
INSERT INTO public.transitions VALUES (4, 'legacy-session-0001', 'with_agent', 'resolved', 'agent:yuki', 'solved', 1796569048.359182);
INSERT INTO public.transitions VALUES (5, 'legacy-session-0002', NULL, 'bot', 'shopper', 'session_start', 1796569048.3621712);

-- Name: agents_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -

SELECT pg_catalog.setval('public.agents_id_seq', 2, true);

-- Name: messages_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -

SELECT pg_catalog.setval('public.messages_id_seq', 9, true);

-- Name: transitions_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -

SELECT pg_catalog.setval('public.transitions_id_seq', 5, true);

-- Name: agent_tokens agent_tokens_pkey; Type: CONSTRAINT; Schema: public; Owner: -

ALTER TABLE ONLY public.agent_tokens
    ADD CONSTRAINT agent_tokens_pkey PRIMARY KEY (token_hash);

-- Name: agents agents_pkey; Type: CONSTRAINT; Schema: public; Owner: -

ALTER TABLE ONLY public.agents
    ADD CONSTRAINT agents_pkey PRIMARY KEY (id);

-- Name: agents agents_username_key; Type: CONSTRAINT; Schema: public; Owner: -

ALTER TABLE ONLY public.agents
    ADD CONSTRAINT agents_username_key UNIQUE (username);

-- Name: conversations conversations_pkey; Type: CONSTRAINT; Schema: public; Owner: -

ALTER TABLE ONLY public.conversations
    ADD CONSTRAINT conversations_pkey PRIMARY KEY (id);

-- Name: messages messages_pkey; Type: CONSTRAINT; Schema: public; Owner: -

ALTER TABLE ONLY public.messages
    ADD CONSTRAINT messages_pkey PRIMARY KEY (id);

-- Name: transitions transitions_pkey; Type: CONSTRAINT; Schema: public; Owner: -

ALTER TABLE ONLY public.transitions
    ADD CONSTRAINT transitions_pkey PRIMARY KEY (id);

-- Name: messages uq_message_client_id; Type: CONSTRAINT; Schema: public; Owner: -

ALTER TABLE ONLY public.messages
    ADD CONSTRAINT uq_message_client_id UNIQUE (conversation_id, client_id);

-- Name: ix_messages_conversation; Type: INDEX; Schema: public; Owner: -

CREATE INDEX ix_messages_conversation ON public.messages USING btree (conversation_id, id);

-- Name: agent_tokens agent_tokens_agent_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -

ALTER TABLE ONLY public.agent_tokens
    ADD CONSTRAINT agent_tokens_agent_id_fkey FOREIGN KEY (agent_id) REFERENCES public.agents(id);

-- Name: messages messages_conversation_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -

ALTER TABLE ONLY public.messages
    ADD CONSTRAINT messages_conversation_id_fkey FOREIGN KEY (conversation_id) REFERENCES public.conversations(id);

-- Name: transitions transitions_conversation_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -

ALTER TABLE ONLY public.transitions
    ADD CONSTRAINT transitions_conversation_id_fkey FOREIGN KEY (conversation_id) REFERENCES public.conversations(id);

