package rubrica

import (
	"reflect"
	"testing"
)

// TestOwnFieldsOnly: setting any field of ContactChanges but names, picture and language
// takes an edit off the one-statement path; a field added to ContactChanges must be named
// here, so that its place is decided.
func TestOwnFieldsOnly(t *testing.T) {
	own := map[string]bool{"FirstName": true, "LastName": true, "ProfilePictureURL": true, "Language": true}
	others := map[string]bool{"Email": true, "Phone": true, "Emails": true, "Phones": true, "Country": true,
		"AssigneeID": true, "CustomFields": true}
	typ := reflect.TypeOf(ContactChanges{})
	for i := range typ.NumField() {
		f := typ.Field(i)
		if !own[f.Name] && !others[f.Name] {
			t.Errorf("ContactChanges.%s: decide whether it is an own field (OwnFieldsOnly) and name it in this test", f.Name)
			continue
		}
		var in ContactChanges
		v := reflect.ValueOf(&in).Elem().Field(i)
		if v.Kind() == reflect.Slice {
			v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		} else {
			v.FieldByName("Set").SetBool(true) // an Opt: set to null
		}
		if got := in.OwnFieldsOnly(); got != own[f.Name] {
			t.Errorf("only %s set: OwnFieldsOnly() = %v, want %v", f.Name, got, own[f.Name])
		}
	}
	if !(ContactChanges{}).OwnFieldsOnly() {
		t.Error("no change: OwnFieldsOnly() = false, want true")
	}
}
