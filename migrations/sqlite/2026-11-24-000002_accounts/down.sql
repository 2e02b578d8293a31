ALTER TABLE signatures DROP COLUMN user_id;
DROP TABLE api_tokens;
DROP TABLE users;
