package rubrica_test

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"

	"rubrica"
)

// FuzzSafeCell: a neutralised cell never starts with a character a spreadsheet reads as a
// formula (= + - @ tab CR), differs from the value only by a leading quote, and only when the
// value starts with one of them; it survives encoding/csv's writer and reader unchanged.
func FuzzSafeCell(f *testing.F) {
	for _, s := range []string{"", "Ada", "=1+1", "+393331234567", "-3", "@SUM(A1)", "\tx", "\rx", " =x",
		"'quoted", "李小龙", "=HYPERLINK(\"http://x\",\"y\")", "a,b", "a\"b", "line\nbreak", "\r\n=1", "\xff="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := rubrica.SafeCell(s)
		risky := s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0]))
		switch {
		case out != "" && strings.ContainsRune("=+-@\t\r", rune(out[0])):
			t.Fatalf("SafeCell(%q) = %q starts with a formula character", s, out)
		case risky && out != "'"+s:
			t.Fatalf("SafeCell(%q) = %q, want the value behind a quote", s, out)
		case !risky && out != s:
			t.Fatalf("SafeCell(%q) = %q, want the value unchanged", s, out)
		}
		var buf bytes.Buffer
		w := csv.NewWriter(&buf)
		w.Write([]string{out, "next"})
		w.Flush()
		records, err := csv.NewReader(&buf).ReadAll()
		// encoding/csv reads a quoted CRLF as LF, as RFC 4180 readers do.
		want := strings.ReplaceAll(out, "\r\n", "\n")
		if err != nil || len(records) != 1 || len(records[0]) != 2 || records[0][0] != want {
			t.Fatalf("SafeCell(%q) = %q read back from CSV %q as %q (%v)", s, out, buf.String(), records, err)
		}
	})
}
