-- A database made by Crossdesk's release 151fffb (before migrations), SQLite form.
-- Made by that release's SQLStore (metadata.create_all) and store API, dumped with
-- sqlite3's iterdump: the schema exactly as that release created it, and rows in every
-- table (agent "yuki", password "correct horse battery", token
-- "legacy-token-0123456789abcdefghij" valid until 2100). Never edit: tests/test_migrations.py
-- upgrades it in place.
BEGIN TRANSACTION;
CREATE TABLE agent_tokens (
	token_hash VARCHAR(64) NOT NULL, 
	agent_id INTEGER NOT NULL, 
	expires_at FLOAT NOT NULL, 
	PRIMARY KEY (token_hash), 
	FOREIGN KEY(agent_id) REFERENCES agents (id)
);
INSERT INTO "agent_tokens" VALUES('b40bd4dd2106ee5113df72a4cecc938db0b6068931188cab962785d1e15377b1',1,4102444800.0);
CREATE TABLE agents (
	id INTEGER NOT NULL, 
	username VARCHAR(64) NOT NULL, 
	password_hash VARCHAR(256) NOT NULL, 
	display_name VARCHAR(128) NOT NULL, 
	languages TEXT NOT NULL, 
	role VARCHAR(16) NOT NULL, 
	created_at FLOAT NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (username)
);
INSERT INTO "agents" VALUES(1,'yuki','scrypt$fa1a636e97314e8c4bd8b1ffae97f26c$ba18ec779a2e6807e24b493640a90080fb49a3ff69bf31c7437cc6f55282b22a','Yuki 佐藤','["ja", "en"]','admin',1.79656904241384911538e+09);
INSERT INTO "agents" VALUES(2,'marie','scrypt$a3beae6550e138492ae8ae0d2d9f193d$ae97657aa79e202ca7ea268c0d5bfa9813f551b2de5f442fc11cfd0763683214','Marie Dupont','["fr", "en"]','agent',1.79656904249594569201e+09);
CREATE TABLE conversations (
	id VARCHAR(64) NOT NULL, 
	state VARCHAR(16) NOT NULL, 
	language VARCHAR(16), 
	locale VARCHAR(35), 
	context TEXT NOT NULL, 
	agent_id INTEGER, 
	handoff_reason VARCHAR(64), 
	waiting_since FLOAT, 
	created_at FLOAT NOT NULL, 
	updated_at FLOAT NOT NULL, 
	PRIMARY KEY (id)
);
INSERT INTO "conversations" VALUES('legacy-session-0001','resolved','ja','ja-JP','{"page": "https://shop.example/ja/items/42", "title": "\u30a6\u30fc\u30eb\u306e\u30b3\u30fc\u30c8"}',1,'request_human',1.79656904250894141196e+09,1796569042.50116,1796569042.51398);
INSERT INTO "conversations" VALUES('legacy-session-0002','bot','fr','fr-FR','{}',NULL,NULL,NULL,1.79656904251589727406e+09,1.79656904251729774473e+09);
CREATE TABLE messages (
	id INTEGER NOT NULL, 
	conversation_id VARCHAR(64) NOT NULL, 
	sender VARCHAR(16) NOT NULL, 
	text TEXT NOT NULL, 
	language VARCHAR(16), 
	client_id VARCHAR(64), 
	data TEXT NOT NULL, 
	created_at FLOAT NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_message_client_id UNIQUE (conversation_id, client_id), 
	FOREIGN KEY(conversation_id) REFERENCES conversations (id)
);
INSERT INTO "messages" VALUES(1,'legacy-session-0001','shopper','ドイツへの配送はどのくらいかかりますか？','ja','m-1','{"intent": "shipping_time", "confidence": 0.97, "entities": [{"entity": "country", "value": "DE"}]}',1.79656904250557041165e+09);
INSERT INTO "messages" VALUES(2,'legacy-session-0001','bot','ドイツへは通常5〜7営業日でお届けします。','ja',NULL,'{}',1.79656904250613236426e+09);
INSERT INTO "messages" VALUES(3,'legacy-session-0001','shopper','担当者と話したいです 🙏','ja','m-2','{"intent": "request_human", "confidence": 0.91}',1.79656904250808405871e+09);
INSERT INTO "messages" VALUES(4,'legacy-session-0001','bot','担当者におつなぎします。少々お待ちください。','ja',NULL,'{}',1.79656904250820231437e+09);
INSERT INTO "messages" VALUES(5,'legacy-session-0001','system','Yuki 佐藤 joined',NULL,NULL,'{"event": "agent_joined"}',1.79656904251161432268e+09);
INSERT INTO "messages" VALUES(6,'legacy-session-0001','agent','こんにちは、Yukiです。ご注文番号を教えていただけますか？','ja',NULL,'{"agent": "yuki", "original": "Hello, this is Yuki. Could you tell me your order number?", "original_language": "en"}',1.79656904251374197004e+09);
INSERT INTO "messages" VALUES(7,'legacy-session-0001','shopper','注文番号は A-10023 です。Grüße, Zoë ✨','ja','m-3','{}',1.79656904251388669009e+09);
INSERT INTO "messages" VALUES(8,'legacy-session-0002','shopper','Quels moyens de paiement acceptez-vous ?','fr','f-1','{"intent": "payment_methods", "confidence": 0.88}',1.79656904251779389386e+09);
INSERT INTO "messages" VALUES(9,'legacy-session-0002','bot','Nous acceptons la carte, PayPal et Apple Pay.','fr',NULL,'{}',1.79656904251791548722e+09);
CREATE TABLE transitions (
	id INTEGER NOT NULL, 
	conversation_id VARCHAR(64) NOT NULL, 
	from_state VARCHAR(16), 
	to_state VARCHAR(16) NOT NULL, 
	actor VARCHAR(64) NOT NULL, 
	reason VARCHAR(64) NOT NULL, 
	created_at FLOAT NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(conversation_id) REFERENCES conversations (id)
);
INSERT INTO "transitions" VALUES(1,'legacy-session-0001',NULL,'bot','shopper','session_start',1796569042.50116);
INSERT INTO "transitions" VALUES(2,'legacy-session-0001','bot','waiting','bot','request_human',1.79656904250894141196e+09);
INSERT INTO "transitions" VALUES(3,'legacy-session-0001','waiting','with_agent','agent:yuki','claimed',1.79656904251179385181e+09);
INSERT INTO "transitions" VALUES(4,'legacy-session-0001','with_agent','resolved','agent:yuki','solved',1796569042.51398);
INSERT INTO "transitions" VALUES(5,'legacy-session-0002',NULL,'bot','shopper','session_start',1.79656904251589727406e+09);
CREATE INDEX ix_messages_conversation ON messages (conversation_id, id);
COMMIT;
