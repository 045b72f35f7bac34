package graph_test

import (
	"slices"
	"testing"

	"rubrica/internal/testenv"
)

const (
	rtContactEvents    = `subscription { contactEvents { type contactId contact { id firstName } } }`
	rtSuggestionEvents = `subscription { mergeSuggestionEvents { type suggestion { id status } } }`
)

// rtContactEvent is one contactEvents result.
type rtContactEvent struct{ Type, ContactID string }

// rtWaitContactEvents reads contactEvents results until every wanted one arrived (events of
// the set-up that arrive first are skipped) and returns them all, in their order.
func rtWaitContactEvents(t *testing.T, c *testenv.WS, id string, want ...rtContactEvent) []rtContactEvent {
	t.Helper()
	var out []rtContactEvent
	for range 50 {
		missing := false
		for _, w := range want {
			missing = missing || !slices.Contains(out, w)
		}
		if !missing {
			return out
		}
		var data struct {
			ContactEvents struct{ Type, ContactID string }
		}
		c.NextData(id, &data)
		out = append(out, rtContactEvent{data.ContactEvents.Type, data.ContactEvents.ContactID})
	}
	t.Fatalf("contactEvents: got %+v, want %+v among them", out, want)
	return nil
}

// rtWaitSuggestionEvents reads mergeSuggestionEvents results until the wanted ones arrived in
// their order ("TYPE" or "TYPE STATUS", the suggestion's status as it is when delivered),
// skipping others.
func rtWaitSuggestionEvents(t *testing.T, c *testenv.WS, id string, want ...string) {
	t.Helper()
	var got []string
	for range 50 {
		if len(want) == 0 {
			return
		}
		var data struct {
			MergeSuggestionEvents struct {
				Type       string
				Suggestion struct{ ID, Status string }
			}
		}
		c.NextData(id, &data)
		e := data.MergeSuggestionEvents
		got = append(got, e.Type+" "+e.Suggestion.Status)
		if want[0] == e.Type || want[0] == e.Type+" "+e.Suggestion.Status {
			want = want[1:]
		}
	}
	t.Fatalf("mergeSuggestionEvents: got %v, still want %v", got, want)
}

// TestMergeRealtime: a group merge and an automatic merge announce themselves on both
// websocket protocols: MERGED for every contact, and the suggestion's events.
func TestMergeRealtime(t *testing.T) {
	t.Parallel()
	for _, proto := range testenv.Protocols {
		t.Run(proto, func(t *testing.T) {
			t.Parallel()
			env := testenv.New(t)
			ws := env.Workspace(t, "Realtime")
			tok := ws.Owner()
			whatsapp := mgChannel(t, env, tok, "WHATSAPP", "WhatsApp")
			a := mgCreate(t, env, tok, map[string]any{"firstName": "Ada", "phone": "+393331110001"})
			b := mgCreate(t, env, tok, map[string]any{"firstName": "Bea", "phone": "+393331110001", "email": "b@example.com"})
			c := mgCreate(t, env, tok, map[string]any{"firstName": "Cleo", "email": "b@example.com"})
			holder := mgCreate(t, env, tok, map[string]any{"firstName": "Dora", "phone": "+393332220002"})
			amSet(t, env, ws.Manager(), map[string]any{"verifiedPhone": true})

			conn := testenv.Dial(t, env.WSURL(), proto, ws.Agent())
			conn.Subscribe("contacts", rtContactEvents, nil)
			conn.Subscribe("suggestions", rtSuggestionEvents, nil)
			env.WaitSubscribers(t, 2)

			// A group merge: MERGED for the three, the suggestion of the three RESOLVED as MERGED.
			gmMerge(t, env, tok, a, []string{b, c})
			rtWaitContactEvents(t, conn, "contacts", rtContactEvent{"MERGED", a}, rtContactEvent{"MERGED", b}, rtContactEvent{"MERGED", c})
			rtWaitSuggestionEvents(t, conn, "suggestions", "RESOLVED MERGED")

			// An automatic merge: the suggestion made and MERGED in the same transaction,
			// MERGED for the holder and the new contact, then the holder UPDATED (its
			// conversation opened).
			r := mgReceive(t, env, tok, whatsapp, "+393332220002", "ciao")
			mgWant(t, "contact of the first message", r.ContactID, holder)
			m := amMerges(t, env, tok)[0]
			mgWant(t, "automatic", m.Automatic, true)
			rtWaitSuggestionEvents(t, conn, "suggestions", "CREATED", "RESOLVED MERGED")
			mergedH, mergedN, updated := rtContactEvent{"MERGED", holder}, rtContactEvent{"MERGED", m.MergedContactID}, rtContactEvent{"UPDATED", holder}
			events := rtWaitContactEvents(t, conn, "contacts", mergedH, mergedN, updated)
			if slices.Index(events, updated) < slices.Index(events, mergedH) || slices.Index(events, updated) < slices.Index(events, mergedN) {
				t.Errorf("contactEvents of the automatic merge: got %+v, want the holder UPDATED after both MERGED", events)
			}
			if slices.Contains(events, rtContactEvent{"CREATED", m.MergedContactID}) {
				t.Errorf("contactEvents of the automatic merge: got %+v, want no CREATED for the contact merged at once", events)
			}

			// Its undo: UNMERGED for both.
			gmUnmerge(t, env, tok, m.ID)
			rtWaitContactEvents(t, conn, "contacts", rtContactEvent{"UNMERGED", holder}, rtContactEvent{"UNMERGED", m.MergedContactID})
		})
	}
}
