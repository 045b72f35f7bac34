package server_test

import (
	"bufio"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"rubrica/internal/testenv"
)

// scrape returns the series of /metrics, by name with labels as printed
// (`rubrica_subscriptions_active{field="contactEvents"}`).
func scrape(t *testing.T, env *testenv.Env) map[string]float64 {
	t.Helper()
	res, err := env.Server.Client().Get(env.Server.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("/metrics: %d %s", res.StatusCode, b)
	}
	series := map[string]float64{}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("/metrics line %q: %v", line, err)
		}
		series[line[:i]] = v
	}
	return series
}

// waitMetrics scrapes until every series of want has its value (gauges follow a closing
// websocket within milliseconds), failing after WSWait.
func waitMetrics(t *testing.T, env *testenv.Env, want map[string]float64) {
	t.Helper()
	deadline := time.Now().Add(testenv.WSWait)
	for {
		got := scrape(t, env)
		ok := true
		for name, v := range want {
			if got[name] != v {
				ok = false
			}
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			for name, v := range want {
				if got[name] != v {
					t.Errorf("%s: got %v, want %v", name, got[name], v)
				}
			}
			t.FailNow()
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestWebsocketMetrics: /metrics tells the open websockets, the running subscriptions by
// field and the events sent, following real websocket activity on both protocols.
func TestWebsocketMetrics(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ws := env.Workspace(t, "Metrics")
	const (
		conns    = `rubrica_websocket_connections`
		contacts = `rubrica_subscriptions_active{field="contactEvents"}`
		channels = `rubrica_subscriptions_active{field="contactChannelEvents"}`
		events   = `rubrica_subscription_events_total{field="contactEvents"}`
	)
	waitMetrics(t, env, map[string]float64{conns: 0})

	a := testenv.Dial(t, env.WSURL(), testenv.TransportWS, ws.Agent())
	b := testenv.Dial(t, env.WSURL(), testenv.LegacyWS, ws.Owner())
	a.Subscribe("c", `subscription { contactEvents { type contactId } }`, nil)
	a.Subscribe("ch", channelEventsQuery, nil)
	b.Subscribe("c", `subscription { contactEvents { type contactId } }`, nil)
	env.WaitSubscribers(t, 3)
	waitMetrics(t, env, map[string]float64{conns: 2, contacts: 2, channels: 1})

	createContact(t, env, ws.Owner(), map[string]any{"firstName": "Ada"})
	a.Next("c")
	b.Next("c")
	waitMetrics(t, env, map[string]float64{events: 2})

	a.Unsubscribe("ch")
	waitMetrics(t, env, map[string]float64{conns: 2, contacts: 2, channels: 0})
	b.Close()
	waitMetrics(t, env, map[string]float64{conns: 1, contacts: 1})
	a.Close()
	waitMetrics(t, env, map[string]float64{conns: 0, contacts: 0, events: 2})
}
