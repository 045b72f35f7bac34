package main

import (
	"net/url"
	"strings"
	"testing"
	"unicode"
)

func TestMaskDSN(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		// URLs: the user info's password, escaped or not.
		{"postgres://rubrica:secret@db:5432/rubrica?sslmode=disable", "postgres://rubrica:xxxxx@db:5432/rubrica?sslmode=disable"},
		{"postgresql://rubrica:se@cret@db/rubrica", "postgresql://rubrica:xxxxx@db/rubrica"},
		{"postgres://rubrica:se:cr:et@db/rubrica", "postgres://rubrica:xxxxx@db/rubrica"},
		{"postgres://rubrica:se/cret@db/rubrica", "postgres://rubrica:xxxxx@db/rubrica"},
		{"postgres://rubrica:se?cr#et@db/rubrica", "postgres://rubrica:xxxxx@db/rubrica"},
		{"postgres://rubrica:se%40cr%3Aet%2F@db/rubrica", "postgres://rubrica:xxxxx@db/rubrica"},
		{"postgres://:secret@db/rubrica", "postgres://:xxxxx@db/rubrica"},
		{"postgres://rubrica@db/rubrica", "postgres://rubrica@db/rubrica"},
		{"postgres://db/rubrica", "postgres://db/rubrica"},
		{"POSTGRES://rubrica:secret@db/rubrica", "POSTGRES://rubrica:xxxxx@db/rubrica"},
		// URLs: query parameters, any case, escaped names, unescaped '&' and '@' in the value.
		{"postgres://rubrica@db/rubrica?password=secret&sslmode=disable", "postgres://rubrica@db/rubrica?password=xxxxx&sslmode=disable"},
		{"postgres://db/rubrica?sslmode=disable&PassWord=secret", "postgres://db/rubrica?sslmode=disable&PassWord=xxxxx"},
		{"postgres://db/rubrica?pass%77ord=secret", "postgres://db/rubrica?pass%77ord=xxxxx"},
		{"postgres://db/rubrica?%70assword=secret", "postgres://db/rubrica?%70assword=xxxxx"},
		{"postgres://db/rubrica?password=se%26cret", "postgres://db/rubrica?password=xxxxx"},
		{"postgres://db/rubrica?password=se&cret&sslmode=disable", "postgres://db/rubrica?password=xxxxx&sslmode=disable"},
		{"postgres://db/rubrica?password=se@cret", "postgres://db/rubrica?password=xxxxx"},
		{"postgres://db/rubrica?sslpassword=secret&sslkey=/k.pem", "postgres://db/rubrica?sslpassword=xxxxx&sslkey=xxxxx"},
		{"postgres://db/rubrica?password=secret#frag", "postgres://db/rubrica?password=xxxxx"},
		{"postgres://db/rubrica?%zz=secret", "postgres://db/rubrica?%zz=xxxxx"},
		// key=value strings.
		{"host=db password=secret dbname=rubrica", "host=db password=xxxxx dbname=rubrica"},
		{`host=db password='se cr\' et' dbname=rubrica`, "host=db password=xxxxx dbname=rubrica"},
		{`host=db password='' dbname=rubrica`, "host=db password=xxxxx dbname=rubrica"},
		{`host=db password=se\ cret dbname=rubrica`, "host=db password=xxxxx dbname=rubrica"},
		{"host=db password = secret dbname = rubrica", "host=db password=xxxxx dbname=rubrica"},
		{"host=db\tPASSWORD=secret\nsslmode=disable", "host=db PASSWORD=xxxxx sslmode=disable"},
		{"host=db password=", "host=db password=xxxxx"},
		{"host=db user=pass dbname='my db'", "host=db user=pass dbname='my db'"},
		{"host=db sslkey='-----BEGIN KEY----- secret'", "host=db sslkey=xxxxx"},
		{"host=db application_name='password=secret'", "host=db application_name='password=xxxxx'"},
		// What lib/pq cannot read is hidden whole.
		{"host=db password='secret", hiddenDSN},
		{`host=db password=secret\`, hiddenDSN},
		{"host=db password", hiddenDSN},
		{"secret", hiddenDSN},
		{" postgres://rubrica:secret@db/rubrica", hiddenDSN},
	} {
		got := maskDSN(c.in)
		if got != c.want {
			t.Errorf("maskDSN(%q):\n got %q\nwant %q", c.in, got, c.want)
		}
		if strings.Contains(got, "secret") || strings.Contains(got, "cret") {
			t.Errorf("maskDSN(%q) = %q shows the password", c.in, got)
		}
	}
}

// dsnForms build a connection string that lib/pq reads with password pw, in each form; ok is
// false for a password the form cannot carry.
var dsnForms = []func(pw string) (dsn string, ok bool){
	func(pw string) (string, bool) { // URL, user info escaped as net/url escapes it
		u := url.URL{Scheme: "postgres", User: url.UserPassword("rubrica", pw), Host: "db.internal:5432", Path: "/rubrica", RawQuery: "sslmode=disable"}
		return u.String(), true
	},
	func(pw string) (string, bool) { // URL, user info not escaped
		return "postgresql://rubrica:" + pw + "@db.internal:5432/rubrica?sslmode=disable", true
	},
	func(pw string) (string, bool) { // URL, query parameter escaped
		return "postgres://rubrica@db.internal/rubrica?sslmode=disable&password=" + url.QueryEscape(pw) + "&application_name=rubrica", true
	},
	func(pw string) (string, bool) { // URL, query parameter not escaped, name in another case
		return "postgres://db.internal/rubrica?PassWord=" + pw, !strings.Contains(pw, "&")
	},
	func(pw string) (string, bool) { // key=value, quoted with escapes
		r := strings.NewReplacer(`\`, `\\`, `'`, `\'`)
		return "host=db.internal password='" + r.Replace(pw) + "' dbname=rubrica", true
	},
	func(pw string) (string, bool) { // key=value, unquoted, spaces around '='
		var b strings.Builder
		for i, r := range pw {
			if unicode.IsSpace(r) || r == '\\' || (i == 0 && r == '\'') {
				b.WriteByte('\\')
			}
			b.WriteRune(r)
		}
		return "host=db.internal password = " + b.String() + "  dbname=rubrica", pw != ""
	},
}

// FuzzMaskDSN checks that the masked form of a connection string does not depend on its
// password (so it cannot show it), in every form, and that no input makes maskDSN panic.
func FuzzMaskDSN(f *testing.F) {
	for _, pw := range []string{"secret", "p@ss:w/rd", "a b' c\\", "&sslmode=x", "%41%", "'", " ", "pa?ss#wd", "é\u00a0x", "\xff"} {
		f.Add(pw, "host=db password="+pw)
	}
	f.Add("x", "postgres://u:p@h/d?password=s&sslkey=k")
	const other = "zq9Other"
	f.Fuzz(func(t *testing.T, pw, raw string) {
		_ = maskDSN(raw)
		for form, build := range dsnForms {
			dsn, ok := build(pw)
			ref, _ := build(other)
			if !ok {
				continue
			}
			got, want := maskDSN(dsn), maskDSN(ref)
			if got != want {
				t.Fatalf("form %d: maskDSN(%q) = %q depends on the password: with %q it is %q", form, dsn, got, other, want)
			}
			if len(pw) >= 3 && strings.Contains(got, pw) && !strings.Contains(want, pw) {
				t.Fatalf("form %d: maskDSN(%q) = %q shows the password", form, dsn, got)
			}
		}
	})
}
