package graph_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"rubrica/db"
	"rubrica/internal/testenv"
)

// The helpers of this file are prefixed dl.

const dlDelete = `mutation($in: DeleteContactsInput!) { deleteContacts(input: $in) { deletedContactIds deletedCount } }`

type dlDeleted struct {
	DeletedContactIds []string
	DeletedCount      int
}

func dlMustDelete(tb testing.TB, env *testenv.Env, token string, in map[string]any) dlDeleted {
	tb.Helper()
	var data struct{ DeleteContacts dlDeleted }
	env.MustDo(tb, token, dlDelete, map[string]any{"in": in}, &data)
	return data.DeleteContacts
}

// dlCount counts a workspace's rows of a table straight from the database.
func dlCount(tb testing.TB, env *testenv.Env, table, workspaceID string) int {
	tb.Helper()
	var n int
	if err := env.DB.GetContext(context.Background(), &n, `SELECT count(*) FROM `+table+` WHERE workspace_id = $1`, workspaceID); err != nil {
		tb.Fatal(err)
	}
	return n
}

// dlExists reports whether contact(id) finds the contact.
func dlExists(tb testing.TB, env *testenv.Env, token, id string) bool {
	tb.Helper()
	var data struct{ Contact *struct{ ID string } }
	r := env.Do(tb, token, `query($id: ID!) { contact(id: $id) { id } }`, map[string]any{"id": id})
	if len(r.Errors) > 0 {
		if r.Code() == "NOT_FOUND" {
			return false
		}
		tb.Fatalf("contact(%s): %+v", id, r.Errors)
	}
	r.Decode(tb, &data)
	return data.Contact != nil
}

func TestDeleteContacts(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ws := env.Workspace(t, "Delete")
	other := env.Workspace(t, "Delete other")

	t.Run("ErrAgentForbidden", func(t *testing.T) {
		ids := fxContacts(t, env, ws.Owner(), 2, nil)
		fxWantError(t, env.Do(t, ws.Agent(), dlDelete, map[string]any{"in": map[string]any{"contactIds": ids, "expectedCount": 2}}), "FORBIDDEN", "-")
		fxWantError(t, env.Do(t, ws.Agent(), dlDelete, map[string]any{"in": map[string]any{"filter": map[string]any{}, "expectedCount": 2}}), "FORBIDDEN", "-")
		for _, id := range ids {
			if !dlExists(t, env, ws.Owner(), id) {
				t.Errorf("contact %s deleted by an agent", id)
			}
		}
	})

	for _, role := range []string{"OWNER", "MANAGER"} {
		t.Run("OK"+role, func(t *testing.T) {
			token := ws.Owner()
			if role == "MANAGER" {
				token = ws.Manager()
			}
			ids := fxContacts(t, env, ws.Owner(), 3, nil)
			got := dlMustDelete(t, env, token, map[string]any{"contactIds": ids[:2], "expectedCount": 2})
			if got.DeletedCount != 2 || !sameSet(got.DeletedContactIds, ids[:2]) {
				t.Errorf("deleted: got %+v, want %v", got, ids[:2])
			}
			if dlExists(t, env, ws.Owner(), ids[0]) || dlExists(t, env, ws.Owner(), ids[1]) || !dlExists(t, env, ws.Owner(), ids[2]) {
				t.Errorf("after deleting the first two: got %v %v %v, want false false true",
					dlExists(t, env, ws.Owner(), ids[0]), dlExists(t, env, ws.Owner(), ids[1]), dlExists(t, env, ws.Owner(), ids[2]))
			}
		})
	}

	t.Run("Cascade", func(t *testing.T) {
		cws := env.Workspace(t, "Delete cascade")
		wa := bkChannel(t, env, cws, "WHATSAPP")
		fxDefinition(t, env, cws.Owner(), "note", "TEXT")
		r := bkReceive(t, env, cws.Agent(), wa, "+393335550001", "hello", "")
		keep := bkReceive(t, env, cws.Agent(), wa, "+393335550002", "hello", "")
		for _, id := range []string{r.Contact.ID, keep.Contact.ID} {
			env.MustDo(t, cws.Owner(), `mutation($id: ID!) { updateContact(input: {id: $id, customFields: [{key: "note", value: "x"}]}) { contact { id } } }`,
				map[string]any{"id": id}, nil)
			bkStart(t, env, cws.Owner(), id, "Nurture")
		}
		env.MustDo(t, cws.Owner(), `mutation($ids: [ID!]) { addTagsToContacts(input: {contactIds: $ids, tagNames: ["VIP"]}) { tags { id } } }`,
			map[string]any{"ids": []string{r.Contact.ID, keep.Contact.ID}}, nil)
		dlMustDelete(t, env, cws.Owner(), map[string]any{"contactIds": []string{r.Contact.ID}, "expectedCount": 1})

		local := ctLocal(t, r.Contact.ID)
		for _, q := range []string{
			`SELECT count(*) FROM contacts WHERE id = $1`,
			`SELECT count(*) FROM contact_channels WHERE contact_id = $1`,
			`SELECT count(*) FROM conversations WHERE contact_id = $1`,
			`SELECT count(*) FROM messages m JOIN conversations c ON c.id = m.conversation_id WHERE c.contact_id = $1`,
			`SELECT count(*) FROM contact_tags WHERE contact_id = $1`,
			`SELECT count(*) FROM contact_custom_values WHERE contact_id = $1`,
			`SELECT count(*) FROM workflow_runs WHERE contact_id = $1`,
		} {
			var n int
			if err := env.DB.GetContext(context.Background(), &n, q, local); err != nil {
				t.Fatal(err)
			}
			if n != 0 {
				t.Errorf("%s: got %d rows, want 0", q, n)
			}
		}
		if n := dlCount(t, env, "messages", cws.ID); n != 1 {
			t.Errorf("messages of the workspace: got %d, want 1 (the other contact's)", n)
		}
		tags := fxAllTags(t, env, cws.Owner())
		if len(tags) != 1 || tags[0].ContactCount != 1 {
			t.Errorf("tags after the delete: got %+v, want VIP on 1 contact (the tag stays)", tags)
		}
		// The identity is free again: the same phone writing makes a new contact.
		again := bkReceive(t, env, cws.Agent(), wa, "+393335550001", "back", "")
		if again.Contact.ID == r.Contact.ID {
			t.Errorf("a message from a deleted contact's phone: got the deleted id, want a new contact")
		}
	})

	t.Run("ErrExpectedCountMismatch", func(t *testing.T) {
		ids := fxContacts(t, env, ws.Owner(), 3, func(i int) map[string]any { return map[string]any{"firstName": fmt.Sprintf("Mismatch %d", i)} })
		for _, in := range []map[string]any{
			{"contactIds": ids, "expectedCount": 2},
			{"contactIds": ids, "expectedCount": 4},
			{"contactIds": ids, "expectedCount": 0},
			{"contactIds": ids, "expectedCount": -3},
			{"filter": map[string]any{"search": "Mismatch"}, "expectedCount": 2},
			{"filter": map[string]any{"search": "Mismatch"}, "expectedCount": 4},
		} {
			fxWantError(t, env.Do(t, ws.Owner(), dlDelete, map[string]any{"in": in}), "BAD_USER_INPUT", "expectedCount")
		}
		for _, id := range ids {
			if !dlExists(t, env, ws.Owner(), id) {
				t.Errorf("contact %s deleted despite a wrong expectedCount", id)
			}
		}
	})

	t.Run("DuplicateIDsCountOnce", func(t *testing.T) {
		id := fxContact(t, env, ws.Owner(), "Twice listed")
		got := dlMustDelete(t, env, ws.Owner(), map[string]any{"contactIds": []string{id, id}, "expectedCount": 1})
		if got.DeletedCount != 1 {
			t.Errorf("deletedCount: got %d, want 1", got.DeletedCount)
		}
	})

	t.Run("ErrOtherWorkspaceNotFound", func(t *testing.T) {
		own := fxContact(t, env, ws.Owner(), "Own")
		foreign := fxContact(t, env, other.Owner(), "Foreign")
		fxWantError(t, env.Do(t, ws.Owner(), dlDelete, map[string]any{"in": map[string]any{"contactIds": []string{own, foreign}, "expectedCount": 2}}),
			"NOT_FOUND", "contactIds")
		fxWantError(t, env.Do(t, ws.Owner(), dlDelete, map[string]any{"in": map[string]any{"contactIds": []string{"bogus"}, "expectedCount": 1}}),
			"NOT_FOUND", "contactIds")
		if !dlExists(t, env, ws.Owner(), own) || !dlExists(t, env, other.Owner(), foreign) {
			t.Errorf("a refused delete deleted something")
		}
	})

	t.Run("ErrSelection", func(t *testing.T) {
		id := fxContact(t, env, ws.Owner(), "Both")
		for _, in := range []map[string]any{
			{"contactIds": []string{id}, "filter": map[string]any{"search": "Both"}, "expectedCount": 1},
			{"expectedCount": 0},
			{"contactIds": []string{}, "expectedCount": 0},
		} {
			fxWantError(t, env.Do(t, ws.Owner(), dlDelete, map[string]any{"in": in}), "BAD_USER_INPUT", "contactIds")
		}
	})

	t.Run("Filter", func(t *testing.T) {
		fws := env.Workspace(t, "Delete filter")
		spam := fxContacts(t, env, fws.Owner(), 150, func(i int) map[string]any { return map[string]any{"firstName": fmt.Sprintf("Spam %03d", i)} })
		keep := fxContacts(t, env, fws.Owner(), 3, func(i int) map[string]any { return map[string]any{"firstName": fmt.Sprintf("Keep %d", i)} })
		fxContacts(t, env, other.Owner(), 2, func(i int) map[string]any { return map[string]any{"firstName": fmt.Sprintf("Spam %d", i)} })
		got := dlMustDelete(t, env, fws.Manager(), map[string]any{"filter": map[string]any{"search": "spam"}, "expectedCount": 150})
		if got.DeletedCount != 150 || !sameSet(got.DeletedContactIds, spam) {
			t.Errorf("deleted by filter: got %d, want the 150 spam contacts (no limit of 100)", got.DeletedCount)
		}
		if n := ctStored(t, env, fws); n != 3 {
			t.Errorf("contacts left: got %d, want 3", n)
		}
		for _, id := range keep {
			if !dlExists(t, env, fws.Owner(), id) {
				t.Errorf("contact %s outside the filter deleted", id)
			}
		}
		if n := dlCount(t, env, "contacts", other.ID); n < 2 {
			t.Errorf("other workspace's contacts: got %d, want its own untouched", n)
		}
		// A filter that now matches nothing deletes nothing, with expectedCount 0.
		if got := dlMustDelete(t, env, fws.Owner(), map[string]any{"filter": map[string]any{"search": "spam"}, "expectedCount": 0}); got.DeletedCount != 0 {
			t.Errorf("empty filter match: got %d deleted, want 0", got.DeletedCount)
		}
	})

	t.Run("Events", func(t *testing.T) {
		ews := env.Workspace(t, "Delete events")
		ids := fxContacts(t, env, ews.Owner(), 2, nil)
		sub := bkSubscribe(t, env, ews.Agent(), `subscription { contactEvents { type contactId contact { id } } }`, nil)
		env.WaitSubscribers(t, 1)
		dlMustDelete(t, env, ews.Owner(), map[string]any{"contactIds": ids, "expectedCount": 2})
		var deleted []string
		for len(deleted) < 2 {
			r, _ := bkNext(t, sub, 10*time.Second)
			if r == nil {
				t.Fatalf("DELETED events: got %v, want both contacts", deleted)
			}
			var data struct {
				ContactEvents struct {
					Type      string
					ContactID string
					Contact   *struct{ ID string }
				}
			}
			r.Decode(t, &data)
			if e := data.ContactEvents; e.Type == "DELETED" {
				if e.Contact != nil {
					t.Errorf("DELETED event's contact: got %+v, want null", e.Contact)
				}
				deleted = append(deleted, e.ContactID)
			}
		}
		if !sameSet(deleted, ids) {
			t.Errorf("DELETED events: got %v, want %v", deleted, ids)
		}
	})

	t.Run("ErrUnauthenticated", func(t *testing.T) {
		fxWantError(t, env.Do(t, "", dlDelete, map[string]any{"in": map[string]any{"filter": map[string]any{}, "expectedCount": 0}}), "UNAUTHENTICATED", "-")
	})
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

const dlDeleteAll = `mutation($n: Int!) { deleteAllContacts(input: {expectedCount: $n}) { job { id kind status total processed error createdAt startedAt finishedAt } } }`

type dlJob struct {
	ID         string
	Kind       string
	Status     string
	Total      int
	Processed  int
	Error      *string
	CreatedAt  string
	StartedAt  *string
	FinishedAt *string
}

const dlJobFields = `id kind status total processed error createdAt startedAt finishedAt`

func dlStartDeleteAll(tb testing.TB, env *testenv.Env, token string, n int) dlJob {
	tb.Helper()
	var data struct{ DeleteAllContacts struct{ Job dlJob } }
	env.MustDo(tb, token, dlDeleteAll, map[string]any{"n": n}, &data)
	return data.DeleteAllContacts.Job
}

func dlGetJob(tb testing.TB, env *testenv.Env, token, id string) dlJob {
	tb.Helper()
	var data struct{ Job *dlJob }
	env.MustDo(tb, token, `query($id: ID!) { job(id: $id) { `+dlJobFields+` } }`, map[string]any{"id": id}, &data)
	if data.Job == nil {
		tb.Fatalf("job(%s): got null", id)
	}
	return *data.Job
}

// dlWaitJob polls the job until it ends.
func dlWaitJob(tb testing.TB, env *testenv.Env, token, id string, timeout time.Duration) dlJob {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		j := dlGetJob(tb, env, token, id)
		if j.Status == "SUCCEEDED" || j.Status == "FAILED" {
			return j
		}
		if time.Now().After(deadline) {
			tb.Fatalf("job %s: still %s (%d of %d) after %s", id, j.Status, j.Processed, j.Total, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestDeleteAllContacts(t *testing.T) {
	t.Parallel()
	env := testenv.NewWithJobs(t, &db.JobWorkerConfig{Poll: 100 * time.Millisecond, BatchSize: 40})
	ws := env.Workspace(t, "Delete all")
	other := env.Workspace(t, "Delete all other")
	wa := bkChannel(t, env, ws, "WHATSAPP")
	fxContacts(t, env, ws.Owner(), 200, nil)
	for i := range 5 {
		r := bkReceive(t, env, ws.Agent(), wa, fmt.Sprintf("+3933366600%02d", i), "hi", "")
		bkStart(t, env, ws.Owner(), r.Contact.ID, "Welcome")
	}
	fxContacts(t, env, other.Owner(), 7, nil)

	fxWantError(t, env.Do(t, ws.Agent(), dlDeleteAll, map[string]any{"n": 205}), "FORBIDDEN", "-")
	for _, n := range []int{0, 204, 206} {
		fxWantError(t, env.Do(t, ws.Owner(), dlDeleteAll, map[string]any{"n": n}), "BAD_USER_INPUT", "expectedCount")
	}
	if n := dlCount(t, env, "jobs", ws.ID); n != 0 {
		t.Fatalf("jobs after refused deleteAllContacts: got %d, want 0", n)
	}

	job := dlStartDeleteAll(t, env, ws.Manager(), 205)
	if job.Kind != "DELETE_ALL_CONTACTS" || job.Total != 205 || job.Status == "SUCCEEDED" && job.Processed != 205 {
		t.Errorf("new job: got %+v, want DELETE_ALL_CONTACTS of 205", job)
	}
	done := dlWaitJob(t, env, ws.Agent(), job.ID, 30*time.Second)
	if done.Status != "SUCCEEDED" || done.Processed != 205 || done.Total != 205 || done.FinishedAt == nil || done.StartedAt == nil || done.Error != nil {
		t.Errorf("ended job: got %+v, want SUCCEEDED 205 of 205 with times", done)
	}
	if n := ctStored(t, env, ws); n != 0 {
		t.Errorf("contacts left: got %d, want 0", n)
	}
	for _, table := range []string{"conversations", "messages", "contact_channels", "workflow_runs"} {
		if n := dlCount(t, env, table, ws.ID); n != 0 {
			t.Errorf("%s left: got %d, want 0", table, n)
		}
	}
	if n := ctStored(t, env, other); n != 7 {
		t.Errorf("other workspace's contacts: got %d, want 7", n)
	}
	var items int
	env.DB.GetContext(context.Background(), &items, `SELECT count(*) FROM job_items`)
	if items != 0 {
		t.Errorf("job items left: got %d, want 0", items)
	}
	// The job stays readable; another delete-all may start now.
	if j := dlStartDeleteAll(t, env, ws.Owner(), 0); j.Total != 0 {
		t.Errorf("delete-all of an empty workspace: got total %d, want 0", j.Total)
	} else if j := dlWaitJob(t, env, ws.Owner(), j.ID, 10*time.Second); j.Status != "SUCCEEDED" {
		t.Errorf("delete-all of an empty workspace: got %s, want SUCCEEDED", j.Status)
	}

	t.Run("ErrJobOfOtherWorkspace", func(t *testing.T) {
		fxWantError(t, env.Do(t, other.Owner(), `query($id: ID!) { job(id: $id) { id } }`, map[string]any{"id": job.ID}), "NOT_FOUND", "-")
		fxWantError(t, env.Do(t, other.Owner(), `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": job.ID}), "NOT_FOUND", "-")
		fxWantError(t, env.Do(t, ws.Owner(), `query { job(id: "bogus") { id } }`, nil), "NOT_FOUND", "-")
	})

	t.Run("Node", func(t *testing.T) {
		var data struct{ Node struct{ Status string } }
		env.MustDo(t, ws.Agent(), `query($id: ID!) { node(id: $id) { ... on Job { status } } }`, map[string]any{"id": job.ID}, &data)
		if data.Node.Status != "SUCCEEDED" {
			t.Errorf("node(job).status: got %q, want SUCCEEDED", data.Node.Status)
		}
	})
}

// TestDeleteAllContactsQueued runs without a worker until the test starts one: a second
// delete-all while one is queued is CONFLICT, contacts created after the job stay, and
// jobEvents pushes the job from QUEUED to SUCCEEDED, then completes.
func TestDeleteAllContactsQueued(t *testing.T) {
	t.Parallel()
	env := testenv.NewWithJobs(t, nil)
	ws := env.Workspace(t, "Delete all queued")
	before := fxContacts(t, env, ws.Owner(), 120, nil)

	job := dlStartDeleteAll(t, env, ws.Owner(), 120)
	if job.Status != "QUEUED" || job.StartedAt != nil || job.Processed != 0 {
		t.Fatalf("job with no worker: got %+v, want QUEUED, not started", job)
	}
	r := env.Do(t, ws.Manager(), dlDeleteAll, map[string]any{"n": 120})
	fxWantError(t, r, "CONFLICT", "-")
	if !strings.Contains(r.Errors[0].Message, "already") {
		t.Errorf("CONFLICT message: got %q, want it to say a job is already running", r.Errors[0].Message)
	}
	after := fxContacts(t, env, ws.Owner(), 3, func(i int) map[string]any { return map[string]any{"firstName": fmt.Sprintf("Late %d", i)} })
	// A contact deleted by hand meanwhile still counts as processed.
	dlMustDelete(t, env, ws.Owner(), map[string]any{"contactIds": before[:1], "expectedCount": 1})

	// jobEvents of another workspace's job is NOT_FOUND.
	other := env.Workspace(t, "Delete all queued other")
	bad := bkSubscribe(t, env, other.Owner(), `subscription($id: ID!) { jobEvents(jobId: $id) { id } }`, map[string]any{"id": job.ID})
	if r, _ := bkNext(t, bad, 10*time.Second); r == nil || len(r.Errors) == 0 || r.Errors[0].Extensions.Code != "NOT_FOUND" {
		t.Errorf("jobEvents of another workspace's job: got %+v, want NOT_FOUND", r)
	}

	sub := bkSubscribe(t, env, ws.Agent(), `subscription($id: ID!) { jobEvents(jobId: $id) { `+dlJobFields+` } }`, map[string]any{"id": job.ID})
	first, _ := bkNext(t, sub, 10*time.Second)
	if first == nil {
		t.Fatal("jobEvents: got nothing, want the job as it is")
	}
	var j struct{ JobEvents dlJob }
	first.Decode(t, &j)
	if j.JobEvents.Status != "QUEUED" || j.JobEvents.ID != job.ID {
		t.Errorf("first jobEvents payload: got %+v, want the QUEUED job", j.JobEvents)
	}

	// Paused batches, so that each step of progress is delivered before the next one.
	env.RunJobWorker(t, db.JobWorkerConfig{Poll: 100 * time.Millisecond, BatchSize: 25, Pause: 150 * time.Millisecond})
	var seen []dlJob
	complete := false
	for {
		r, c := bkNext(t, sub, 20*time.Second)
		if r == nil {
			complete = c
			break
		}
		var p struct{ JobEvents dlJob }
		r.Decode(t, &p)
		seen = append(seen, p.JobEvents)
	}
	if !complete {
		t.Fatal("jobEvents: no payload for 20s and not completed, want the stream to complete after the job's end")
	}
	if len(seen) == 0 {
		t.Fatal("jobEvents: got no progress, want the job to the end")
	}
	last := seen[len(seen)-1]
	if last.Status != "SUCCEEDED" || last.Processed != 120 || last.Total != 120 {
		t.Errorf("last jobEvents payload: got %+v, want SUCCEEDED 120 of 120", last)
	}
	for i := 1; i < len(seen); i++ {
		if seen[i].Processed < seen[i-1].Processed {
			t.Errorf("jobEvents progress went back: %d then %d", seen[i-1].Processed, seen[i].Processed)
		}
	}
	if len(seen) < 4 {
		t.Errorf("jobEvents payloads for 5 paused batches: got %d, want progress along the way", len(seen))
	}
	for _, id := range after {
		if !dlExists(t, env, ws.Owner(), id) {
			t.Errorf("contact %s created after the job started: deleted, want it kept", id)
		}
	}
	if n := ctStored(t, env, ws); n != 3 {
		t.Errorf("contacts left: got %d, want the 3 created after the job", n)
	}
	// A subscription to an ended job pushes it once and completes.
	ended := bkSubscribe(t, env, ws.Owner(), `subscription($id: ID!) { jobEvents(jobId: $id) { status } }`, map[string]any{"id": job.ID})
	if r, _ := bkNext(t, ended, 10*time.Second); r == nil || !strings.Contains(string(r.Data), "SUCCEEDED") {
		t.Errorf("jobEvents of an ended job: got %v, want it SUCCEEDED", r)
	}
	if r, complete := bkNext(t, ended, 2*time.Second); r != nil || !complete {
		t.Errorf("jobEvents of an ended job: got a second payload, want the stream to complete")
	}
}

// TestDeleteAllContactsConcurrent starts delete-all twice at once: one job, one CONFLICT.
func TestDeleteAllContactsConcurrent(t *testing.T) {
	t.Parallel()
	env := testenv.NewWithJobs(t, nil)
	ws := env.Workspace(t, "Delete all race")
	fxContacts(t, env, ws.Owner(), 10, nil)
	codes := make(chan string, 4)
	for _, token := range []string{ws.Owner(), ws.Manager(), ws.Owner(), ws.Manager()} {
		go func() { codes <- env.Do(t, token, dlDeleteAll, map[string]any{"n": 10}).Code() }()
	}
	var got []string
	for range 4 {
		got = append(got, <-codes)
	}
	slices.Sort(got)
	if want := []string{"", "CONFLICT", "CONFLICT", "CONFLICT"}; !slices.Equal(got, want) {
		t.Errorf("four concurrent deleteAllContacts: got codes %q, want one success and three CONFLICT", got)
	}
	if n := dlCount(t, env, "jobs", ws.ID); n != 1 {
		t.Errorf("jobs: got %d, want 1", n)
	}
}

func TestAddTagsToContactsByFilter(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ws := env.Workspace(t, "Bulk tags")
	other := env.Workspace(t, "Bulk tags other")
	leads := fxContacts(t, env, ws.Owner(), 101, func(i int) map[string]any { return map[string]any{"firstName": fmt.Sprintf("Lead %03d", i)} })
	fxContacts(t, env, other.Owner(), 3, func(i int) map[string]any { return map[string]any{"firstName": fmt.Sprintf("Lead %d", i)} })
	const add = `mutation($in: AddTagsToContactsInput!) { addTagsToContacts(input: $in) { contacts { id } tags { name contactCount } } }`

	t.Run("ErrLimit", func(t *testing.T) {
		r := env.Do(t, ws.Agent(), add, map[string]any{"in": map[string]any{"filter": map[string]any{"search": "lead"}, "tagNames": []string{"Hot"}}})
		fxWantError(t, r, "LIMIT_EXCEEDED", "filter")
		if !strings.Contains(r.Errors[0].Message, "101") || !strings.Contains(r.Errors[0].Message, "100") {
			t.Errorf("message: got %q, want it to say 101 matched and the limit is 100", r.Errors[0].Message)
		}
		if slices.Contains(fxTagNames(t, env, ws.Owner()), "Hot") {
			t.Errorf("a refused bulk action created its tag")
		}
	})

	t.Run("OK", func(t *testing.T) {
		var data struct {
			AddTagsToContacts struct {
				Contacts []struct{ ID string }
				Tags     []fxTagData
			}
		}
		env.MustDo(t, ws.Agent(), add, map[string]any{"in": map[string]any{"filter": map[string]any{"search": "lead 0"}, "tagNames": []string{"Warm"}}}, &data)
		var ids []string
		for _, c := range data.AddTagsToContacts.Contacts {
			ids = append(ids, c.ID)
		}
		if !slices.Equal(ids, leads[:100]) {
			t.Errorf("tagged contacts: got %d, want Lead 000 to Lead 099 oldest first", len(ids))
		}
		if tags := data.AddTagsToContacts.Tags; len(tags) != 1 || tags[0].Name != "Warm" || tags[0].ContactCount != 100 {
			t.Errorf("tags: got %+v, want Warm on 100", tags)
		}
	})

	t.Run("NoMatch", func(t *testing.T) {
		var data struct {
			AddTagsToContacts struct {
				Contacts []struct{ ID string }
				Tags     []fxTagData
			}
		}
		env.MustDo(t, ws.Agent(), add, map[string]any{"in": map[string]any{"filter": map[string]any{"search": "nobody"}, "tagNames": []string{"Cold"}}}, &data)
		if len(data.AddTagsToContacts.Contacts) != 0 || len(data.AddTagsToContacts.Tags) != 0 {
			t.Errorf("a filter matching nothing: got %+v, want nothing tagged", data.AddTagsToContacts)
		}
	})

	t.Run("ErrSelection", func(t *testing.T) {
		for _, in := range []map[string]any{
			{"contactIds": leads[:1], "filter": map[string]any{}, "tagNames": []string{"X"}},
			{"tagNames": []string{"X"}},
		} {
			fxWantError(t, env.Do(t, ws.Agent(), add, map[string]any{"in": in}), "BAD_USER_INPUT", "contactIds")
		}
	})

	t.Run("ErrIdsLimit", func(t *testing.T) {
		r := env.Do(t, ws.Agent(), add, map[string]any{"in": map[string]any{"contactIds": leads, "tagNames": []string{"X"}}})
		fxWantError(t, r, "LIMIT_EXCEEDED", "contactIds")
		if !strings.Contains(r.Errors[0].Message, "101") {
			t.Errorf("message: got %q, want it to say 101 were selected", r.Errors[0].Message)
		}
	})
}
