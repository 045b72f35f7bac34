package main_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"rubrica/db/dbtest"
	"rubrica/graph"
)

// kill stops the server with SIGKILL: no chance to release its job or finish its batch.
func (s *server) kill(t *testing.T) {
	t.Helper()
	s.cmd.Process.Kill()
	<-s.done
	s.done <- nil
}

func (s *server) graphql(t *testing.T, token, query string, vars map[string]any, v any) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, s.base+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct {
		Data   json.RawMessage
		Errors []any
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil || len(out.Errors) > 0 {
		t.Fatalf("%s: %v %v", query, err, out.Errors)
	}
	if err := json.Unmarshal(out.Data, v); err != nil {
		t.Fatal(err)
	}
}

type jobView struct {
	ID        string
	Status    string
	Total     int
	Processed int
}

// TestDeleteAllResumesAfterKill deletes 100,000 contacts with a delete-all job, kills the
// server (SIGKILL) in the middle of the job, starts it again and checks that the job resumes
// and completes: nothing left of the workspace's contacts, nothing of another workspace
// touched, every contact processed once.
func TestDeleteAllResumesAfterKill(t *testing.T) {
	if testing.Short() {
		t.Skip("deletes 100,000 contacts; skipped with -short")
	}
	t.Parallel()
	const total = 100_000
	start := time.Now()
	bin := buildBinary(t)
	dsn := dbtest.NewDatabase(t)
	env := []string{"DATABASE_URL=" + dsn, "LOG_LEVEL=warn", "JOB_BATCH_SIZE=1000", "JOB_LEASE=3s"}

	var big, small struct{ WorkspaceID, Token string }
	runJSON(t, bin, env, &big, "workspace", "create", "--name", "Big", "--owner-email", "owner@big.test")
	runJSON(t, bin, env, &small, "workspace", "create", "--name", "Small", "--owner-email", "owner@small.test")
	bigID, smallID := graph.LocalWorkspaceID(big.WorkspaceID), graph.LocalWorkspaceID(small.WorkspaceID)

	d, err := sql.Open("postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx := context.Background()
	seed := func(ws string, n int) {
		t.Helper()
		// Contacts, and for some of them what deleting cascades to: a tag, a custom value,
		// a channel link with a conversation and a message.
		for _, q := range []string{
			`INSERT INTO contacts (workspace_id, first_name, email, phone)
				SELECT $1, 'Contact ' || i, 'c' || i || '@bulk.test', '+39333' || lpad(i::text, 7, '0') FROM generate_series(1, $2) AS i`,
			`INSERT INTO tags (workspace_id, name) SELECT $1, 'Bulk' WHERE $2 > 0`,
			`INSERT INTO contact_tags (contact_id, tag_id) SELECT c.id, t.id FROM contacts c JOIN tags t ON t.workspace_id = c.workspace_id
				WHERE c.workspace_id = $1 AND hashtext(c.id::text) % 10 = 0 AND $2 > 0`,
			`INSERT INTO custom_field_definitions (workspace_id, key, label, type) SELECT $1, 'note', 'Note', 'TEXT' WHERE $2 > 0`,
			`INSERT INTO contact_custom_values (contact_id, definition_id, value) SELECT c.id, d.id, 'note ' || c.first_name
				FROM contacts c JOIN custom_field_definitions d ON d.workspace_id = c.workspace_id
				WHERE c.workspace_id = $1 AND hashtext(c.id::text) % 10 = 1 AND $2 > 0`,
			`INSERT INTO channels (workspace_id, type, name) SELECT $1, 'WHATSAPP', 'WhatsApp' WHERE $2 > 0`,
			`INSERT INTO contact_channels (workspace_id, contact_id, channel_id, identifier, connected_at, last_interaction_at)
				SELECT c.workspace_id, c.id, ch.id, c.phone, now(), now() FROM contacts c JOIN channels ch ON ch.workspace_id = c.workspace_id
				WHERE c.workspace_id = $1 AND hashtext(c.id::text) % 50 = 2 AND $2 > 0`,
			`INSERT INTO conversations (workspace_id, contact_id, channel_id, status)
				SELECT workspace_id, contact_id, channel_id, 'OPEN' FROM contact_channels WHERE workspace_id = $1 AND $2 > 0`,
			`INSERT INTO messages (workspace_id, conversation_id, channel_id, identifier, direction, text, sent_at)
				SELECT cv.workspace_id, cv.id, cv.channel_id, '+39', 'INBOUND', 'hello', now() FROM conversations cv WHERE cv.workspace_id = $1 AND $2 > 0`,
		} {
			if _, err := d.ExecContext(ctx, q, ws, n); err != nil {
				t.Fatalf("seed: %v\n%s", err, q)
			}
		}
	}
	seed(bigID, total)
	seed(smallID, 50)
	count := func(q string, args ...any) int {
		t.Helper()
		var n int
		if err := d.QueryRowContext(ctx, q, args...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	smallRows := func() [4]int {
		return [4]int{
			count(`SELECT count(*) FROM contacts WHERE workspace_id = $1`, smallID),
			count(`SELECT count(*) FROM contact_tags ct JOIN contacts c ON c.id = ct.contact_id WHERE c.workspace_id = $1`, smallID),
			count(`SELECT count(*) FROM conversations WHERE workspace_id = $1`, smallID),
			count(`SELECT count(*) FROM messages WHERE workspace_id = $1`, smallID),
		}
	}
	smallBefore := smallRows()
	t.Logf("seeded %d contacts in %s", total, time.Since(start).Round(time.Millisecond))

	first := startServer(t, bin, env)
	var started struct{ DeleteAllContacts struct{ Job jobView } }
	first.graphql(t, big.Token, `mutation($n: Int!) { deleteAllContacts(input: {expectedCount: $n}) { job { id status total processed } } }`,
		map[string]any{"n": total}, &started)
	job := started.DeleteAllContacts.Job
	if job.Total != total {
		t.Fatalf("job: got %+v, want a total of %d", job, total)
	}
	poll := func(s *server) jobView {
		var out struct{ Job jobView }
		s.graphql(t, big.Token, `query($id: ID!) { job(id: $id) { id status total processed } }`, map[string]any{"id": job.ID}, &out)
		return out.Job
	}
	deadline := time.Now().Add(60 * time.Second)
	for j := poll(first); j.Processed < 20_000; j = poll(first) {
		if j.Status != "QUEUED" && j.Status != "RUNNING" || time.Now().After(deadline) {
			t.Fatalf("job before the kill: got %+v, want it RUNNING past 20,000\n%s", j, first.logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	first.kill(t)
	var killed struct {
		Status    string
		Processed int
		LockedBy  sql.NullString
	}
	if err := d.QueryRowContext(ctx, `SELECT status, processed, locked_by FROM jobs WHERE workspace_id = $1`, bigID).
		Scan(&killed.Status, &killed.Processed, &killed.LockedBy); err != nil {
		t.Fatal(err)
	}
	if killed.Status != "RUNNING" || killed.Processed >= total || !killed.LockedBy.Valid {
		t.Fatalf("job after SIGKILL: got %+v, want RUNNING, unfinished, still held by the dead server", killed)
	}
	if left := count(`SELECT count(*) FROM contacts WHERE workspace_id = $1`, bigID); left != total-killed.Processed {
		t.Fatalf("contacts after SIGKILL: got %d, want %d (progress commits with its batch)", left, total-killed.Processed)
	}
	t.Logf("killed at %d of %d after %s", killed.Processed, total, time.Since(start).Round(time.Millisecond))

	second := startServer(t, bin, env)
	var last jobView
	for last = poll(second); last.Status != "SUCCEEDED"; last = poll(second) {
		if last.Status == "FAILED" || time.Now().After(deadline) {
			t.Fatalf("job after the restart: got %+v, want SUCCEEDED\n%s", last, second.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if last.Processed != total || last.Total != total {
		t.Errorf("ended job: got %+v, want %d of %d (each contact processed once)", last, total, total)
	}
	for what, n := range map[string]int{
		"contacts":       count(`SELECT count(*) FROM contacts WHERE workspace_id = $1`, bigID),
		"conversations":  count(`SELECT count(*) FROM conversations WHERE workspace_id = $1`, bigID),
		"messages":       count(`SELECT count(*) FROM messages WHERE workspace_id = $1`, bigID),
		"channel links":  count(`SELECT count(*) FROM contact_channels WHERE workspace_id = $1`, bigID),
		"tag links":      count(`SELECT count(*) FROM contact_tags ct JOIN tags t ON t.id = ct.tag_id WHERE t.workspace_id = $1`, bigID),
		"custom values":  count(`SELECT count(*) FROM contact_custom_values v JOIN custom_field_definitions d ON d.id = v.definition_id WHERE d.workspace_id = $1`, bigID),
		"job items left": count(`SELECT count(*) FROM job_items`),
	} {
		if n != 0 {
			t.Errorf("%s of the big workspace left: got %d, want 0", what, n)
		}
	}
	if got := smallRows(); got != smallBefore {
		t.Errorf("small workspace (contacts, tag links, conversations, messages): got %v, want %v untouched", got, smallBefore)
	}
	if n := count(`SELECT attempts FROM jobs WHERE workspace_id = $1`, bigID); n < 2 {
		t.Errorf("job attempts: got %d, want at least 2 (the killed server's and the restarted one's)", n)
	}
	t.Logf("resumed and finished after %s in all", time.Since(start).Round(time.Millisecond))
}
