package browsertest_test

import (
	"context"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"rubrica/internal/testenv"
)

// chromium finds the browser; without it the test fails (CI installs it: .ci/run), unless
// SKIP_BROWSER_TESTS=1 asks, out loud, to skip.
func chromium(t *testing.T) string {
	t.Helper()
	if os.Getenv("SKIP_BROWSER_TESTS") == "1" {
		t.Skip("SKIP_BROWSER_TESTS=1")
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no Chromium: install it (apt-get install chromium) or set SKIP_BROWSER_TESTS=1")
	return ""
}

// browser starts headless Chromium for the test and records every request it makes, and
// those to a host other than allowed.
func browser(t *testing.T, allowed string) (ctx context.Context, requests func() (all, foreign []string)) {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium(t)), chromedp.NoSandbox,
		chromedp.Flag("headless", "new"), chromedp.WindowSize(1400, 1000))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	var mu sync.Mutex
	var all, others []string
	err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok {
			mu.Lock()
			all = append(all, e.Request.URL)
			mu.Unlock()
			u, err := url.Parse(e.Request.URL)
			if err != nil || (u.Scheme != "data" && u.Scheme != "blob" && u.Host != allowed) {
				mu.Lock()
				others = append(others, e.Request.URL)
				mu.Unlock()
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return ctx, func() ([]string, []string) {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), all...), append([]string(nil), others...)
	}
}

// replaceQuery types query into the query editor in place of its content (Monaco closes
// brackets as they are typed and types over them when they are typed again).
func replaceQuery(query string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.Click(chromedp.CSS(queryEditor), chromedp.NodeVisible),
		chromedp.KeyEvent("a", chromedp.KeyModifiers(chromedp.ModifierCtrl)),
		chromedp.KeyEvent("\b"),
		chromedp.KeyEvent(query),
		chromedp.KeyEvent("\u001b"), // Escape: close the completion list
	)
}

// typeQuery types query into the editor until the editor shows it (on a busy machine Monaco
// may take keys as it completes what came before), at most three times, then waits for
// GraphiQL to take it.
func typeQuery(ctx context.Context, t *testing.T, query string) {
	t.Helper()
	want := strings.Join(strings.Fields(query), "")
	var got string
	for range 3 {
		if err := chromedp.Do(ctx, replaceQuery(query)); err != nil {
			t.Fatal(err)
		}
		text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("`+queryEditor+`").innerText`))
		if err != nil {
			t.Fatal(err)
		}
		if got = strings.Join(strings.Fields(strings.ReplaceAll(text, "\u00a0", " ")), ""); got == want {
			// GraphiQL takes the editor's text into its state after a pause (a debounce):
			// a run clicked at once would send the text before.
			if err := chromedp.Do(ctx, chromedp.Sleep(time.Second)); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatalf("the editor shows %q, want %q", got, want)
}

// queryEditor is the text area of GraphiQL's query editor (Monaco).
const queryEditor = ".graphiql-query-editor .monaco-editor .view-lines"

// run clicks GraphiQL's run button.
var run = chromedp.Click(chromedp.CSS(".graphiql-execute-button"), chromedp.NodeVisible)

// waitResponse waits until the response pane holds want, and returns its text.
func waitResponse(ctx context.Context, t *testing.T, want string, within time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(within)
	var text string
	for time.Now().Before(deadline) {
		var err error
		text, err = chromedp.Run(ctx, chromedp.Evaluate[string](
			`(document.querySelector(".graphiql-response") || {innerText: ""}).innerText`))
		if err != nil {
			t.Fatal(err)
		}
		text = strings.ReplaceAll(text, "\u00a0", " ") // Monaco renders spaces as no-break spaces
		if strings.Contains(text, want) {
			return text
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("the response pane shows %q after %v, want %q", text, within, want)
	return ""
}

// TestExplorerInChromium: the explorer, opened as /#token=..., runs a query and a
// subscription against the real server; a subscription with a refused token ends at once
// with the error shown; the page never asks another host for anything.
func TestExplorerInChromium(t *testing.T) {
	env := testenv.New(t)
	ws := env.Workspace(t, "Browser")
	base, _ := url.Parse(env.Server.URL)
	ctx, requests := browser(t, base.Host)

	if err := chromedp.Do(ctx,
		chromedp.Navigate(env.Server.URL+"/#token="+ws.Owner()),
		chromedp.WaitVisible(chromedp.CSS(queryEditor)),
		chromedp.Sleep(500*time.Millisecond), // the editor settles its first content
	); err != nil {
		t.Fatal(err)
	}
	firstScreen, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector(".graphiql-query-editor").innerText`))
	if err != nil {
		t.Fatal(err)
	}
	firstScreen = strings.ReplaceAll(firstScreen, "\u00a0", " ")
	if !strings.Contains(firstScreen, "make run") || !strings.Contains(firstScreen, "rubrica token create") {
		t.Errorf("the first screen %q does not tell how to get a token", firstScreen)
	}
	location, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(location, "token") {
		t.Errorf("the address bar still holds the token: %s", location)
	}

	// The default query, with the token from the fragment in the headers.
	if err := chromedp.Do(ctx, run); err != nil {
		t.Fatal(err)
	}
	waitResponse(ctx, t, `"OWNER"`, 20*time.Second)

	// A subscription receives the event of a contact created meanwhile.
	typeQuery(ctx, t, `subscription Live { contactEvents { type contactId } }`)
	if err := chromedp.Do(ctx, run); err != nil {
		t.Fatal(err)
	}
	env.WaitSubscribers(t, 1)
	var created struct {
		CreateContact struct{ Contact struct{ ID string } }
	}
	env.MustDo(t, ws.Owner(), `mutation { createContact(input: {firstName: "Ada"}) { contact { id } } }`, nil, &created)
	waitResponse(ctx, t, created.CreateContact.Contact.ID, 20*time.Second)

	// With a refused token, the subscription ends at once, the error shown.
	if err := chromedp.Do(ctx,
		chromedp.Navigate(env.Server.URL+"/#token=rbk_not_a_valid_token"),
		chromedp.WaitVisible(chromedp.CSS(queryEditor)),
		chromedp.Sleep(500*time.Millisecond),
	); err != nil {
		t.Fatal(err)
	}
	typeQuery(ctx, t, `subscription Refused { contactEvents { type } }`)
	start := time.Now()
	if err := chromedp.Do(ctx, run); err != nil {
		t.Fatal(err)
	}
	text := waitResponse(ctx, t, "4403", 5*time.Second)
	t.Logf("refused subscription shown after %v: %s", time.Since(start).Round(time.Millisecond), text)
	if !strings.Contains(text, "Headers") || !strings.Contains(text, "refused") {
		t.Errorf("the refusal %q does not say where the token goes", text)
	}

	all, others := requests()
	if len(others) > 0 {
		t.Errorf("the explorer asked other hosts: %v", others)
	}
	// The listener saw the page's own requests (so it would have seen others): the bundle
	// and the editor's workers.
	for _, want := range []string{"/explorer/assets/explorer.bundle.js", "/explorer/assets/editor.worker.js"} {
		if !strings.Contains(strings.Join(all, " "), want) {
			t.Errorf("no request for %s among %v", want, all)
		}
	}
}
