package rubrica_test

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"rubrica"
)

// maxErrorMessage bounds the message of a refused value: it may quote the value, shortened,
// but never grows with it.
const maxErrorMessage = 300

// checkNormalized fails unless a normaliser's answer keeps its promises: a refusal is
// BAD_USER_INPUT about field with a bounded message; an accepted value is at most max bytes
// and normalising it again gives it back.
func checkNormalized(t *testing.T, field, in string, out *string, err error, max int, again func(string) (*string, error)) {
	t.Helper()
	if err != nil {
		var e *rubrica.Error
		if !errors.As(err, &e) || e.Code != rubrica.EINVALID || e.Field != field {
			t.Fatalf("%.80q: got %v, want BAD_USER_INPUT about %s", in, err, field)
		}
		if len(e.Message) > maxErrorMessage || !utf8.ValidString(e.Message) {
			t.Fatalf("%.80q: message of %d bytes (%.120q): it grows with the input", in, len(e.Message), e.Message)
		}
		return
	}
	if out == nil {
		if strings.TrimSpace(in) != "" {
			t.Fatalf("%.80q: accepted as empty", in)
		}
		return
	}
	if len(*out) > max || *out == "" || !utf8.ValidString(*out) || strings.ContainsRune(*out, 0) {
		t.Fatalf("%.80q: normalised to %.80q (%d bytes, at most %d)", in, *out, len(*out), max)
	}
	out2, err := again(*out)
	if err != nil || out2 == nil || *out2 != *out {
		t.Fatalf("%.80q: normalised to %q, which normalises to %q, %v", in, *out, deref(out2), err)
	}
}

func FuzzNormalizePhone(f *testing.F) {
	for _, s := range []string{"+393331234567", " +14155552671 ", "+39 333 1234567", "393331234567", "+", "+0", "", " ",
		"+1234567890123456789", "+39333123456\x00", "+٣٩٣٣٣١٢٣٤٥٦٧", strings.Repeat("+3", 20_000)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		norm := func(s string) (*string, error) {
			p, region, err := rubrica.NormalizePhone("phone", &s)
			if err == nil && p != nil && region == "" {
				t.Fatalf("%q: a valid number without a region", s)
			}
			return p, err
		}
		out, err := norm(in)
		checkNormalized(t, "phone", in, out, err, 16, norm)
	})
}

func FuzzNormalizeEmail(f *testing.F) {
	for _, s := range []string{"ada@example.com", " Ada@Example.COM ", "Ada <ada@example.com>", "ada@localhost", "a@b.c", "@", "",
		`"a b"@example.com`, "ada@example.com\x00", "ada@exämple.com", strings.Repeat("a", 400) + "@example.com", "a@" + strings.Repeat("b.", 20_000)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		norm := func(s string) (*string, error) { return rubrica.NormalizeEmail("email", &s) }
		out, err := norm(in)
		checkNormalized(t, "email", in, out, err, 320, norm)
	})
}

func FuzzNormalizeLanguage(f *testing.F) {
	for _, s := range []string{"it", "pt-BR", " en-us ", "zh-Hant-TW", "sh", "iw", "und", "x-klingon", "en-US-u-ca-gregory", "", "e",
		"it\x00", "en-" + strings.Repeat("abcdefgh-", 10_000)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		norm := func(s string) (*string, error) { return rubrica.NormalizeLanguage("language", &s) }
		out, err := norm(in)
		checkNormalized(t, "language", in, out, err, rubrica.MaxLanguageLength, norm)
	})
}

// fuzzDefinitions are custom fields of every type.
var fuzzDefinitions = map[string]*rubrica.CustomFieldDefinition{}

func init() {
	for _, typ := range []rubrica.CustomFieldType{rubrica.FieldText, rubrica.FieldNumber, rubrica.FieldDate, rubrica.FieldCheckbox,
		rubrica.FieldList, rubrica.FieldURL, rubrica.FieldEmail, rubrica.FieldPhone} {
		d := &rubrica.CustomFieldDefinition{Key: "f" + strings.ToLower(string(typ)), Type: typ}
		if typ == rubrica.FieldList {
			d.Options = []string{"Red", "Green", "Blue ribbon"}
		}
		fuzzDefinitions[string(typ)] = d
	}
}

func FuzzNormalizeCustomValue(f *testing.F) {
	for _, s := range []string{"hello", " 42 ", "1e308", "-0", "0x1p-2", "1_000", "NaN", "Inf", "2026-02-29", "2024-02-29", "true",
		"T", "0", "Red", "red", "https://example.com/a?b", "ftp://x", "ada@example.com", "+393331234567", "", "a\x00b",
		strings.Repeat("é", rubrica.MaxCustomTextLength+1), strings.Repeat("9", 40_000)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		for _, d := range fuzzDefinitions {
			norm := func(s string) (*string, error) { return rubrica.NormalizeCustomValue(d, &s) }
			out, err := norm(in)
			max := 4 * rubrica.MaxCustomTextLength
			if d.Type == rubrica.FieldNumber {
				max = 400 // the longest float in 'f' form: 1e308's 309 digits, or a tiny one's decimals
			}
			checkNormalized(t, "customFields."+d.Key, in, out, err, max, norm)
		}
	})
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}
