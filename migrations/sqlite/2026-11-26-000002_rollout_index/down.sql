DROP INDEX agreements_rollout;
