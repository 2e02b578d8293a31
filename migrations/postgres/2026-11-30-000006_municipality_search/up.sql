-- The municipality search (/kommunen?q=, the API's ?q=) matches a substring of the
-- search key, which no index can seek; with this index the matches are found by reading
-- the index alone, AGS and id included, and only the page's 50 rows are read from the
-- table (store::municipality::Municipality::list). Replaces the index on search_name.
CREATE INDEX municipalities_search ON municipalities (search_name, ags, id);
DROP INDEX municipalities_search_name;
