CREATE INDEX municipalities_search_name ON municipalities (search_name);
DROP INDEX municipalities_search;
