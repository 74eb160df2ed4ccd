-- PostGraphile's side of the comparison: a role that reads only what the
-- visibility rule lets the viewer (jwt.claims.sub) see, by row-level
-- security. taskql itself connects as the tables' owner, whom RLS skips.
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'taskql_postgraphile') THEN
    CREATE ROLE taskql_postgraphile NOLOGIN;
  END IF;
END $$;
GRANT USAGE ON SCHEMA public TO taskql_postgraphile;
GRANT SELECT ON task_lists, list_members, tasks, labels, task_labels, comments TO taskql_postgraphile;
GRANT SELECT (id, display_name) ON users TO taskql_postgraphile;
CREATE OR REPLACE FUNCTION taskql_viewer() RETURNS uuid LANGUAGE sql STABLE
  AS $$ SELECT nullif(current_setting('jwt.claims.sub', true), '')::uuid $$;
CREATE OR REPLACE FUNCTION taskql_is_member(list uuid) RETURNS boolean LANGUAGE sql STABLE
  SECURITY DEFINER SET search_path = public
  AS $$ SELECT EXISTS (SELECT 1 FROM list_members WHERE list_id = list AND user_id = taskql_viewer()) $$;
CREATE OR REPLACE FUNCTION taskql_knows(person uuid) RETURNS boolean LANGUAGE sql STABLE
  SECURITY DEFINER SET search_path = public
  AS $$ SELECT person = taskql_viewer() OR EXISTS (
    SELECT 1 FROM list_members mine JOIN list_members theirs ON theirs.list_id = mine.list_id
    WHERE mine.user_id = taskql_viewer() AND theirs.user_id = person) $$;
ALTER TABLE task_lists ENABLE ROW LEVEL SECURITY;
ALTER TABLE list_members ENABLE ROW LEVEL SECURITY;
ALTER TABLE tasks ENABLE ROW LEVEL SECURITY;
ALTER TABLE labels ENABLE ROW LEVEL SECURITY;
ALTER TABLE task_labels ENABLE ROW LEVEL SECURITY;
ALTER TABLE comments ENABLE ROW LEVEL SECURITY;
ALTER TABLE users ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS seen ON task_lists;
CREATE POLICY seen ON task_lists FOR SELECT TO taskql_postgraphile USING (taskql_is_member(id));
DROP POLICY IF EXISTS seen ON list_members;
CREATE POLICY seen ON list_members FOR SELECT TO taskql_postgraphile USING (taskql_is_member(list_id));
DROP POLICY IF EXISTS seen ON tasks;
CREATE POLICY seen ON tasks FOR SELECT TO taskql_postgraphile USING (taskql_is_member(list_id));
DROP POLICY IF EXISTS seen ON labels;
CREATE POLICY seen ON labels FOR SELECT TO taskql_postgraphile USING (taskql_is_member(list_id));
DROP POLICY IF EXISTS seen ON task_labels;
CREATE POLICY seen ON task_labels FOR SELECT TO taskql_postgraphile
  USING (EXISTS (SELECT 1 FROM tasks WHERE tasks.id = task_labels.task_id));
DROP POLICY IF EXISTS seen ON comments;
CREATE POLICY seen ON comments FOR SELECT TO taskql_postgraphile
  USING (EXISTS (SELECT 1 FROM tasks WHERE tasks.id = comments.task_id));
DROP POLICY IF EXISTS seen ON users;
CREATE POLICY seen ON users FOR SELECT TO taskql_postgraphile USING (taskql_knows(id));
