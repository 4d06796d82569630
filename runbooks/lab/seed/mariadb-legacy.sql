-- The legacy admin tool's MariaDB database (run as root through the unix socket, after the
-- seed script has created the user). A few thousand rows with MySQL-only types: tinyint(1)
-- booleans, datetime without time zone, enum, unsigned integers.
-- MariaDB stops recursive CTEs after 1000 rounds by default.
SET SESSION max_recursive_iterations = 100000;
CREATE DATABASE legacy CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
USE legacy;

CREATE TABLE audit_log (
  id int unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY,
  user_id int NULL,
  action enum('login', 'logout', 'credit_purchase', 'profile_update', 'password_reset', 'export') NOT NULL,
  detail varchar(255) NULL,
  ip varchar(45) NOT NULL,
  success tinyint(1) NOT NULL DEFAULT 1,
  created_at datetime NOT NULL,
  KEY audit_log_created (created_at),
  KEY audit_log_user (user_id)
) ENGINE=InnoDB;

CREATE TABLE feature_flags (
  name varchar(100) NOT NULL PRIMARY KEY,
  enabled tinyint(1) NOT NULL DEFAULT 0,
  rollout_percent tinyint unsigned NOT NULL DEFAULT 0,
  description text NULL,
  updated_at datetime NULL,
  created_at timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP
) ENGINE=InnoDB;

-- 5000 audit entries, one every 97 minutes from 2024-01-01; system actions have no user.
INSERT INTO audit_log (user_id, action, detail, ip, success, created_at)
WITH RECURSIVE seq (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < 5000)
SELECT IF(n % 13 = 0, NULL, 1 + (n * 7919) % 2000),
       ELT(1 + n % 6, 'login', 'logout', 'credit_purchase', 'profile_update', 'password_reset', 'export'),
       IF(n % 4 = 0, NULL, CONCAT('request ', LPAD(HEX(n * 2654435761 % 4294967296), 8, '0'), IF(n % 50 = 0, ' — café Zürich', ''))),
       CONCAT('10.', n % 256, '.', (n * 7) % 256, '.', (n * 13) % 256),
       IF(n % 17 = 0, 0, 1),
       TIMESTAMP('2024-01-01 00:00:00') + INTERVAL n * 97 MINUTE
FROM seq;

INSERT INTO feature_flags (name, enabled, rollout_percent, description, updated_at, created_at)
WITH RECURSIVE seq (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < 120)
SELECT CONCAT(ELT(1 + n % 5, 'ingest', 'billing', 'analytics', 'ui', 'ops'), '.', LPAD(n, 3, '0')),
       IF(n % 3 = 0, 0, 1),
       (n * 37) % 101,
       IF(n % 10 = 0, NULL, CONCAT('Flag ', n, ' for the ', ELT(1 + n % 5, 'ingest', 'billing', 'analytics', 'ui', 'ops'), ' team')),
       IF(n % 7 = 0, NULL, TIMESTAMP('2024-02-01 09:30:00') + INTERVAL n DAY),
       TIMESTAMP('2023-12-01 08:00:00') + INTERVAL n HOUR
FROM seq;
