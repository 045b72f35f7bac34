package rubrica

import (
	"fmt"
	"math"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// CustomFieldType is the type of a custom field's values.
type CustomFieldType string

// The custom field types of API.md.
const (
	FieldText     CustomFieldType = "TEXT"
	FieldNumber   CustomFieldType = "NUMBER"
	FieldDate     CustomFieldType = "DATE"
	FieldCheckbox CustomFieldType = "CHECKBOX"
	FieldList     CustomFieldType = "LIST"
	FieldURL      CustomFieldType = "URL"
	FieldEmail    CustomFieldType = "EMAIL"
	FieldPhone    CustomFieldType = "PHONE"
)

// Valid reports whether t is a known type.
func (t CustomFieldType) Valid() bool {
	switch t {
	case FieldText, FieldNumber, FieldDate, FieldCheckbox, FieldList, FieldURL, FieldEmail, FieldPhone:
		return true
	}
	return false
}

// CustomFieldDefinition is a field a workspace adds to its contacts.
type CustomFieldDefinition struct {
	ID          string
	WorkspaceID string
	Key         string
	Label       string
	Type        CustomFieldType
	Options     []string // the choices of a LIST field
	CreatedAt   time.Time
}

// CustomFieldValue is one contact's value of one custom field.
type CustomFieldValue struct {
	ContactID  string
	Definition *CustomFieldDefinition
	Value      *string
}

// CustomFieldInput defines a new custom field.
type CustomFieldInput struct {
	Key     string
	Label   string
	Type    CustomFieldType
	Options []string
}

// StandardFieldKeys are the keys of the standard contact fields of the field order, in their
// default order (see StandardFields).
var StandardFieldKeys = standardKeys(true)

// ExportOnlyKeys name the CSV export's columns of a contact's other phones and emails (those
// after the primary, joined with ", "); no custom field may take them.
var ExportOnlyKeys = []string{"otherEmails", "otherPhones"}

var fieldKeyPattern = regexp.MustCompile(`^[a-z][a-zA-Z0-9_]{0,63}$`)

// MaxCustomTextLength is the longest TEXT value, in characters.
const MaxCustomTextLength = 10000

// ValidateCustomFieldInput checks a new custom field definition and normalises it.
func ValidateCustomFieldInput(in *CustomFieldInput) error {
	in.Key = strings.TrimSpace(in.Key)
	in.Label = strings.TrimSpace(in.Label)
	if !fieldKeyPattern.MatchString(in.Key) {
		return InvalidField("key", "key must start with a lower-case letter and hold only letters, digits and _ (at most 64).")
	}
	for _, k := range append(append([]string{}, StandardFieldKeys...), ExportOnlyKeys...) {
		if strings.EqualFold(k, in.Key) {
			return InvalidField("key", "%q is the key of a standard field.", in.Key)
		}
	}
	if in.Label == "" || utf8.RuneCountInString(in.Label) > MaxNameLength || !ValidText(in.Label) {
		return InvalidField("label", "label must be 1 to %d characters.", MaxNameLength)
	}
	if !in.Type.Valid() {
		return InvalidField("type", "unknown field type %q.", in.Type)
	}
	if in.Type != FieldList {
		if len(in.Options) > 0 {
			return InvalidField("options", "only LIST fields take options.")
		}
		in.Options = nil
		return nil
	}
	if len(in.Options) == 0 {
		return InvalidField("options", "a LIST field needs at least one option.")
	}
	seen := map[string]bool{}
	for i, o := range in.Options {
		o = strings.TrimSpace(o)
		if o == "" || utf8.RuneCountInString(o) > MaxNameLength || !ValidText(o) {
			return InvalidField("options", "option %d must be 1 to %d characters.", i+1, MaxNameLength)
		}
		if seen[strings.ToLower(o)] {
			return InvalidField("options", "option %q is listed twice.", o)
		}
		seen[strings.ToLower(o)] = true
		in.Options[i] = o
	}
	return nil
}

// NormalizeCustomValue checks a value against its field's type and returns it in the form
// it is stored in. A nil or blank value clears the field.
func NormalizeCustomValue(def *CustomFieldDefinition, v *string) (*string, error) {
	if v == nil {
		return nil, nil
	}
	field := "customFields." + def.Key
	s := strings.TrimSpace(*v)
	if s == "" {
		return nil, nil
	}
	switch def.Type {
	case FieldText:
		if utf8.RuneCountInString(s) > MaxCustomTextLength {
			return nil, InvalidField(field, "%s is longer than %d characters.", def.Key, MaxCustomTextLength)
		}
		if !ValidText(s) {
			return nil, InvalidField(field, "%s may not contain NUL characters.", def.Key)
		}
	case FieldNumber:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, InvalidField(field, "%s is not a number.", Quoted(s))
		}
		s = strconv.FormatFloat(f, 'f', -1, 64)
	case FieldDate:
		if _, err := time.Parse("2006-01-02", s); err != nil {
			return nil, InvalidField(field, "%s is not a date in the form YYYY-MM-DD.", Quoted(s))
		}
	case FieldCheckbox:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return nil, InvalidField(field, "%s is not true or false.", Quoted(s))
		}
		s = strconv.FormatBool(b)
	case FieldList:
		found := false
		for _, o := range def.Options {
			if o == s {
				found = true
			}
		}
		if !found {
			return nil, InvalidField(field, "%s is not one of the options: %s.", Quoted(s), strings.Join(def.Options, ", "))
		}
	case FieldURL:
		if !validHTTPURL(s) {
			return nil, InvalidField(field, "%s is not an http or https URL.", Quoted(s))
		}
	case FieldEmail:
		return NormalizeEmail(field, &s)
	case FieldPhone:
		p, _, err := NormalizePhone(field, &s)
		return p, err
	default:
		return nil, fmt.Errorf("custom field %s: unknown type %q", def.Key, def.Type)
	}
	return &s, nil
}

func validHTTPURL(s string) bool {
	if len(s) > 2048 || !ValidText(s) {
		return false
	}
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// EffectiveFieldOrder lists every field key once: the stored order first (keys that no longer
// exist dropped), then the standard and custom keys it lacks, in their default order.
func EffectiveFieldOrder(stored []string, customKeys []string) []string {
	known := map[string]bool{}
	all := append(append([]string{}, StandardFieldKeys...), customKeys...)
	for _, k := range all {
		known[k] = true
	}
	out := make([]string, 0, len(all))
	seen := map[string]bool{}
	for _, k := range stored {
		if known[k] && !seen[k] {
			out = append(out, k)
			seen[k] = true
		}
	}
	for _, k := range all {
		if !seen[k] {
			out = append(out, k)
			seen[k] = true
		}
	}
	return out
}

// ReorderFields returns the field order after a reorder that lists keys first: the keys it
// leaves out follow in their current order (that of stored), not the default one.
func ReorderFields(stored, keys, customKeys []string) []string {
	current := EffectiveFieldOrder(stored, customKeys)
	return EffectiveFieldOrder(append(append([]string{}, keys...), current...), customKeys)
}

// ValidateFieldOrder checks a new field order: every key known, none twice.
func ValidateFieldOrder(keys []string, customKeys []string) error {
	known := map[string]bool{}
	for _, k := range StandardFieldKeys {
		known[k] = true
	}
	for _, k := range customKeys {
		known[k] = true
	}
	seen := map[string]bool{}
	for _, k := range keys {
		if !known[k] {
			return InvalidField("keys", "unknown field key %s.", Quoted(k))
		}
		if seen[k] {
			return InvalidField("keys", "field key %s is listed twice.", Quoted(k))
		}
		seen[k] = true
	}
	return nil
}
