DROP TABLE test_seal;
