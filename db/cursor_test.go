package db

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"rubrica"
)

// cursorLists are the orders and keysets of every list that takes cursors.
var cursorLists = func() map[string]keyset {
	m := map[string]keyset{
		"TAG": tagOrder, "SUGGESTION": suggestionOrder, "MERGE": mergeOrder,
		"CONVERSATION": conversationOrder, "MESSAGE": messageOrder,
	}
	for f, k := range contactOrders {
		m[string(f)] = k
	}
	return m
}()

const fuzzID = "0b7f2a8e-3c1d-4e5f-9a6b-7c8d9e0f1a2b"

// checkDecoded fails unless a decode result keeps the promises of decodeCursor.
func checkDecoded(t *testing.T, order string, k keyset, raw string, c *cursor, err error) {
	t.Helper()
	if err != nil {
		var e *rubrica.Error
		if !errors.As(err, &e) || e.Code != rubrica.EINVALID || e.Field != "after" {
			t.Fatalf("%s %.80q: got %v, want BAD_USER_INPUT about after", order, raw, err)
		}
		if c != nil {
			t.Fatalf("%s %.80q: a cursor with an error", order, raw)
		}
		return
	}
	if len(raw) > maxCursorLength || c.Order != order || !validID(c.ID) {
		t.Fatalf("%s %.80q: accepted %+v", order, raw, c)
	}
	switch k.keyType {
	case keyTimestamp:
		tm, perr := time.Parse(time.RFC3339Nano, c.Key)
		if perr != nil || timeKey(tm) != c.Key || tm.Year() < 1 || tm.Year() > 9999 {
			t.Fatalf("%s %.80q: timestamp key %q is not canonical", order, raw, c.Key)
		}
	case keyText:
		if !utf8.ValidString(c.Key) || strings.ContainsRune(c.Key, 0) || utf8.RuneCountInString(c.Key) > maxTextKey {
			t.Fatalf("%s %.80q: text key %.80q", order, raw, c.Key)
		}
	default:
		t.Fatalf("%s: key type %q accepted a cursor", order, k.keyType)
	}
	// Canonical: the cursor of the decoded key decodes to the same.
	again := encodeCursor(order, c.Key, c.ID)
	c2, err := k.decodeCursor("after", order, &again)
	if err != nil || *c2 != *c {
		t.Fatalf("%s %.80q: re-encoded %+v decodes to %+v, %v", order, raw, c, c2, err)
	}
}

// FuzzDecodeCursor: any text given as a cursor decodes to a bounded key of its keyset's type
// or is BAD_USER_INPUT, never a panic; a key encodeCursor is given round-trips when it is
// one of the keyset's type.
func FuzzDecodeCursor(f *testing.F) {
	now := time.Date(2026, 12, 1, 22, 47, 4, 123456000, time.FixedZone("CET", 3600))
	for order, k := range cursorLists {
		key := timeKey(now)
		if k.keyType == keyText {
			key = "mario rossi"
		}
		f.Add(encodeCursor(order, key, fuzzID), key)
	}
	for _, s := range []string{"", "not-a-cursor", "e30", base64URL(`{"o":"CREATED_AT","k":"not-a-time","i":"` + fuzzID + `"}`),
		base64URL(`{"o":"NAME","k":"a\u0000b","i":"` + fuzzID + `"}`), base64URL(`{"o":"TAG","k":"x","i":"not-an-id"}`),
		base64URL(`{"o":"MERGE","k":"0000-12-31T23:00:00Z","i":"` + fuzzID + `"}`), base64URL(`{"o":"MERGE","k":"0001-01-01T00:30:00+01:00","i":"` + fuzzID + `"}`),
		base64URL(`{"o":"MERGE","k":"9999-12-31T23:59:59.999999999Z","i":"` + fuzzID + `"}`), "====", "\xff\xfe"} {
		f.Add(s, "2026-01-02T03:04:05+02:00")
	}
	f.Add("", strings.Repeat("x", 40_000))
	f.Add("", "\xff")
	f.Fuzz(func(t *testing.T, raw, key string) {
		for order, k := range cursorLists {
			c, err := k.decodeCursor("after", order, &raw)
			checkDecoded(t, order, k, raw, c, err)

			enc := encodeCursor(order, key, fuzzID)
			c, err = k.decodeCursor("after", order, &enc)
			canon, ok := canonicalKey(k.keyType, key)
			if ok != (err == nil) && utf8.ValidString(key) { // JSON turns invalid UTF-8 into U+FFFD
				t.Fatalf("%s key %.80q: canonicalKey says %v, decodeCursor %v", order, key, ok, err)
			}
			if err == nil && ok && c.Key != canon {
				t.Fatalf("%s key %.80q: decoded %q, want %q", order, key, c.Key, canon)
			}
			checkDecoded(t, order, k, enc, c, err)
		}
	})
}

// TestDecodeCursor names the cases of the attack: each is BAD_USER_INPUT before any SQL.
func TestDecodeCursor(t *testing.T) {
	cur := func(order, key, id string) string { return encodeCursor(order, key, id) }
	bad := map[string]string{
		"Empty":           "",
		"Garbage":         "not a cursor!",
		"NotJSON":         base64URL("hello"),
		"KeyOf40000":      cur("CREATED_AT", strings.Repeat("x", 40_000), fuzzID),
		"NotATime":        cur("CREATED_AT", "not-a-time", fuzzID),
		"EmptyKey":        cur("CREATED_AT", "", fuzzID),
		"NUL":             cur("CREATED_AT", "\x00", fuzzID),
		"YearZero":        cur("CREATED_AT", "0000-06-01T00:00:00Z", fuzzID),
		"YearZeroInUTC":   cur("CREATED_AT", "0001-01-01T00:30:00+01:00", fuzzID),
		"OtherOrder":      cur("NAME", "mario", fuzzID),
		"BadID":           cur("CREATED_AT", timeKey(time.Now()), "x"),
		"LongText":        cur("NAME", strings.Repeat("é", maxTextKey+1), fuzzID),
		"NULText":         cur("NAME", "a\x00b", fuzzID),
		"TooLongToDecode": strings.Repeat("A", maxCursorLength+1),
	}
	for name, raw := range bad {
		t.Run(name, func(t *testing.T) {
			k := contactOrders[rubrica.ContactOrderCreatedAt]
			if strings.HasPrefix(name, "LongText") || strings.HasPrefix(name, "NULText") {
				k = contactOrders[rubrica.ContactOrderName]
			}
			order := "CREATED_AT"
			if k.keyType == keyText {
				order = "NAME"
			}
			if c, err := k.decodeCursor("before", order, &raw); rubrica.ErrorCode(err) != rubrica.EINVALID || rubrica.ErrorField(err) != "before" {
				t.Errorf("got %+v, %v; want BAD_USER_INPUT about before", c, err)
			}
		})
	}
	t.Run("LongestTextKey", func(t *testing.T) {
		raw := cur("NAME", strings.Repeat("<", maxTextKey), fuzzID) // each < escapes as \u003c
		c, err := contactOrders[rubrica.ContactOrderName].decodeCursor("after", "NAME", &raw)
		if err != nil || c.Key != strings.Repeat("<", maxTextKey) {
			t.Errorf("got %v, want the key back", err)
		}
	})
	t.Run("TimeInCanonicalForm", func(t *testing.T) {
		raw := cur("CREATED_AT", "2026-12-01T23:47:04.5+01:00", fuzzID)
		c, err := contactOrders[rubrica.ContactOrderCreatedAt].decodeCursor("after", "CREATED_AT", &raw)
		if err != nil || c.Key != "2026-12-01T22:47:04.5Z" {
			t.Errorf("got %+v, %v; want key 2026-12-01T22:47:04.5Z", c, err)
		}
	})
	t.Run("EveryListTakesItsCursors", func(t *testing.T) {
		for order, k := range cursorLists {
			key := timeKey(time.Now())
			if k.keyType == keyText {
				key = "mario rossi"
			}
			raw := cur(order, key, fuzzID)
			if c, err := k.decodeCursor("after", order, &raw); err != nil || c.Key != key {
				t.Errorf("%s (key type %s): its own cursor: got %v", order, k.keyType, err)
			}
		}
	})
	if n := base64.RawURLEncoding.DecodedLen(maxCursorLength); n > 8<<10 {
		t.Errorf("maxCursorLength decodes to %d bytes: a cursor needs no more than 8 KiB", n)
	}
}
