package server_test

import (
	"testing"

	"rubrica/internal/testenv"
)

// TestTransportWSCloseCodes: through the Rubrica server, graphql-transport-ws closes with
// the codes of its protocol: 4401 for a subscribe before connection_ack, 4429 for a second
// connection_init, 4409 for a subscribe whose id is active.
func TestTransportWSCloseCodes(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ws := env.Workspace(t, "Codes")
	const proto = testenv.TransportWS
	wantClosed := func(t *testing.T, c *testenv.WS, code int, text string) {
		t.Helper()
		gotCode, gotText, err := c.Closed(testenv.WSWait)
		if err != nil || gotCode != code || gotText != text {
			t.Fatalf("close: got %d %q (%v), want %d %q", gotCode, gotText, err, code, text)
		}
	}
	t.Run("SubscribeBeforeAck", func(t *testing.T) {
		c, _, err := testenv.DialWS(t, env.WSURL(), proto, nil)
		if err != nil {
			t.Fatal(err)
		}
		c.Subscribe("1", contactEventsQuery, nil)
		wantClosed(t, c, 4401, "Unauthorized")
	})
	t.Run("SecondInit", func(t *testing.T) {
		c := testenv.Dial(t, env.WSURL(), proto, ws.Agent())
		c.Init(testenv.InitPayload(ws.Agent()))
		wantClosed(t, c, 4429, "Too many initialisation requests")
	})
	t.Run("DuplicateID", func(t *testing.T) {
		c := testenv.Dial(t, env.WSURL(), proto, ws.Agent())
		c.Subscribe("events", contactEventsQuery, nil)
		env.WaitSubscribers(t, 1)
		c.Subscribe("events", contactEventsQuery, nil)
		wantClosed(t, c, 4409, "Subscriber for events already exists")
		env.WaitSubscribers(t, 0)
	})
}
