-- A RepairSight 0.1 database (the schema create_all made before migrations) with rows in every
-- table: made by that version's code (records/accounts, cases, sessions and the search index) and
-- dumped with sqlite3's iterdump. tests/server/records/test_migrations.py upgrades it in place.
-- The admin "ada" signs in with "ada-correct-horse-1"; the API token is "v0-1-fixture-api-token-kept-0001".
BEGIN TRANSACTION;
CREATE TABLE api_tokens (
	id VARCHAR(32) NOT NULL, 
	user_id VARCHAR(32) NOT NULL, 
	token_sha256 VARCHAR(64) NOT NULL, 
	label VARCHAR(128) NOT NULL, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(user_id) REFERENCES users (id), 
	UNIQUE (token_sha256)
);
INSERT INTO "api_tokens" VALUES('gHOige3SR0P5FRoRywqXhQ','Bsn2dUKXn0OUPVCf6reKNg','63a9841f6d5f2e2c9f5254ff8812872f63a97866a7c7f331cbfb4b3d9eb019e4','nightly export','2026-11-29 01:25:41.140191');
CREATE TABLE cases (
	id VARCHAR(32) NOT NULL, 
	title VARCHAR(200) NOT NULL, 
	customer_name VARCHAR(200) NOT NULL, 
	customer_contact VARCHAR(200) NOT NULL, 
	device_model VARCHAR(200) NOT NULL, 
	notes TEXT NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	outcome VARCHAR(32), 
	procedure_id VARCHAR(100), 
	fixed_by_step VARCHAR(100), 
	created_by VARCHAR(32), 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(created_by) REFERENCES users (id)
);
INSERT INTO "cases" VALUES('pd1LX9OBqolDtTkV9lxARQ','Sound card crackles','Ann Example','ann@example.org','Creative PCI sound card','Customer says it started after a move','open',NULL,'board-connector-reseat',NULL,'Bsn2dUKXn0OUPVCf6reKNg','2026-11-29 01:25:41.153276','2026-11-29 01:25:41.153286');
INSERT INTO "cases" VALUES('lN95D32cRYDX81UYsOHkIw','Router keeps rebooting','','','Fritzbox 7590','','open',NULL,NULL,NULL,'Bsn2dUKXn0OUPVCf6reKNg','2026-11-29 01:25:41.173315','2026-11-29 01:25:41.173326');
CREATE TABLE search_entries (
	session_id VARCHAR(32) NOT NULL, 
	t_ms INTEGER NOT NULL, 
	kind VARCHAR(16) NOT NULL, 
	"key" VARCHAR(100), 
	text TEXT NOT NULL
);
INSERT INTO "search_entries" VALUES('UiXxTt1THHN-ygJ8TFzf4Q',300,'chat','expert','Please unplug the power cord first');
INSERT INTO "search_entries" VALUES('UiXxTt1THHN-ygJ8TFzf4Q',900,'chat','customer','The J5 plug looks tilted');
INSERT INTO "search_entries" VALUES('UiXxTt1THHN-ygJ8TFzf4Q',0,'procedure','board-connector-reseat','board-connector-reseat');
INSERT INTO "search_entries" VALUES('UiXxTt1THHN-ygJ8TFzf4Q',0,'step','board-connector-reseat','locate');
INSERT INTO "search_entries" VALUES('UiXxTt1THHN-ygJ8TFzf4Q',700,'step','board-connector-reseat','find-header');
CREATE TABLE search_indexed (
	session_id VARCHAR(32) NOT NULL, 
	signature VARCHAR(64) NOT NULL, 
	PRIMARY KEY (session_id)
);
INSERT INTO "search_indexed" VALUES('UiXxTt1THHN-ygJ8TFzf4Q','1990:1795915541230042697');
CREATE TABLE sessions (
	id VARCHAR(32) NOT NULL, 
	case_id VARCHAR(32) NOT NULL, 
	join_token VARCHAR(64) NOT NULL, 
	token_expires_at DATETIME NOT NULL, 
	state VARCHAR(16) NOT NULL, 
	created_by VARCHAR(32), 
	created_at DATETIME NOT NULL, 
	started_at DATETIME, 
	ended_at DATETIME, 
	end_reason VARCHAR(200), 
	consent BOOLEAN, 
	consent_at DATETIME, 
	recording_status VARCHAR(16) NOT NULL, 
	recording_duration_s FLOAT, 
	PRIMARY KEY (id), 
	FOREIGN KEY(case_id) REFERENCES cases (id), 
	UNIQUE (join_token), 
	FOREIGN KEY(created_by) REFERENCES users (id)
);
INSERT INTO "sessions" VALUES('UiXxTt1THHN-ygJ8TFzf4Q','pd1LX9OBqolDtTkV9lxARQ','pQd2JK0dfLoMJaWoPbUObHXcj0G6AFDk','2026-11-29 02:25:41.195451','ended','Bsn2dUKXn0OUPVCf6reKNg','2026-11-29 01:25:41.196492','2026-11-29 01:25:41.207014','2026-11-29 01:25:41.213653','ended by the expert',1,'2026-11-29 01:25:41.207030','complete',1.5);
INSERT INTO "sessions" VALUES('xDa4R5hchrOpOhHEZtTUyQ','lN95D32cRYDX81UYsOHkIw','SeFCbrsNNSa-UXc8eTlvDHxB7Yut9MAh','2026-11-29 02:25:41.218599','created','Bsn2dUKXn0OUPVCf6reKNg','2026-11-29 01:25:41.219057',NULL,NULL,NULL,NULL,NULL,'none',NULL);
CREATE TABLE users (
	id VARCHAR(32) NOT NULL, 
	username VARCHAR(64) NOT NULL, 
	password_hash VARCHAR(256) NOT NULL, 
	role VARCHAR(16) NOT NULL, 
	created_at DATETIME NOT NULL, 
	must_change_password BOOLEAN NOT NULL, 
	disabled_at DATETIME, 
	PRIMARY KEY (id), 
	UNIQUE (username)
);
INSERT INTO "users" VALUES('Bsn2dUKXn0OUPVCf6reKNg','ada','$argon2id$v=19$m=65536,t=3,p=4$di54bECSawuGKgkUpucYOQ$V4Cuk+GuzMxeOwiBZhMXKH/OTG8g3ar8w2+d1+2O93g','admin','2026-11-29 01:25:40.316570',0,NULL);
INSERT INTO "users" VALUES('i6JRlW8XriXrIuA95FC-qA','erin','$argon2id$v=19$m=65536,t=3,p=4$0R2HhmxydtQUrVB/8/3bvA$qX90qUcAFiNImGsZ86OOhQ7NAwh+L7pTFLbl0wpirSU','expert','2026-11-29 01:25:41.114793',1,'2026-11-29 01:25:41.127310');
CREATE INDEX ix_sessions_case_id ON sessions (case_id);
CREATE INDEX ix_search_entries_session_id ON search_entries (session_id);
COMMIT;
