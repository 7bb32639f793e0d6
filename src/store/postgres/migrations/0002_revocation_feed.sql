-- Every deleted session is announced, at commit, on the channel `<schema>.revoked` with its
-- id as the payload, so that every app instance drops it from its session memo at once. A
-- trigger rather than a clause in each statement: no deletion (a sign-out, a link, a deleted
-- user, a purge, the app's own SQL) can forget to announce, and an aborted transaction
-- announces nothing.

CREATE FUNCTION {schema}.announce_revoked_session() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(TG_TABLE_SCHEMA || '.revoked', OLD.id);
    RETURN NULL;
END
$$;

CREATE TRIGGER sessions_revoked AFTER DELETE ON {schema}.sessions
    FOR EACH ROW EXECUTE FUNCTION {schema}.announce_revoked_session();
