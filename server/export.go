package server

import (
	"encoding/csv"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"rubrica"
	"rubrica/graph"
)

// exportContacts serves GET /export/contacts.csv: the selected contacts (at most
// rubrica.MaxBulkContacts) as UTF-8 CSV with a header row, streamed. The selection is `ids`
// (repeatable; commas also separate), or a filter with the parameters of the contacts query's
// filter: `search`,
// `tagIds` (repeatable), `tagMatch` (ANY or ALL), `blocked` (true or false), `assigneeId`,
// `country`, `channelIds` (repeatable); with neither, every contact. `bom=true` starts the file with a byte order mark,
// which spreadsheet programs need to read UTF-8. Errors are JSON, as GraphQL errors are.
func exportContacts(exports rubrica.ExportService, errs httpErrors) http.Handler {
	logger := errs.logger
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			errs.write(w, r, 0, rubrica.Errorf(rubrica.EINVALID, "The query string cannot be parsed."))
			return
		}
		sel, err := exportSelection(q)
		if err != nil {
			errs.write(w, r, 0, err)
			return
		}
		if exports == nil {
			errs.write(w, r, 0, rubrica.Errorf(rubrica.EINTERNAL, "Internal error."))
			return
		}
		e, err := exports.ExportContacts(r.Context(), sel)
		if err != nil {
			errs.write(w, r, 0, timedOut(r.Context(), err))
			return
		}
		h := w.Header()
		h.Set("Content-Type", "text/csv; charset=utf-8")
		h.Set("Content-Disposition", `attachment; filename="contacts.csv"`)
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(http.StatusOK)
		if bom, _ := strconv.ParseBool(q.Get("bom")); bom {
			w.Write([]byte("\uFEFF"))
		}
		flusher, _ := w.(http.Flusher)
		cw := csv.NewWriter(w)
		cw.Write(e.Header())
		for i, c := range e.Contacts {
			cw.Write(e.Record(c, graph.ContactID(c.ID)))
			if i%20 == 19 {
				cw.Flush()
				if flusher != nil {
					flusher.Flush()
				}
			}
		}
		cw.Flush()
		if err := cw.Error(); err != nil {
			logger.WarnContext(r.Context(), "export: write", "err", err)
		}
	})
}

// exportSelection reads the selection of an export request.
func exportSelection(q url.Values) (rubrica.ContactSelection, error) {
	var sel rubrica.ContactSelection
	if ids := nonEmpty(q["ids"]); len(ids) > 0 {
		local, err := graph.LocalIDs(ids, graph.TypeContact, "ids")
		if err != nil {
			return sel, err
		}
		sel.IDs = local
	}
	var f rubrica.ContactFilter
	filtered := false
	if s := q.Get("search"); s != "" {
		f.Search, filtered = s, true
	}
	if tags := nonEmpty(q["tagIds"]); len(tags) > 0 {
		local, err := graph.LocalIDs(tags, graph.TypeTag, "tagIds")
		if err != nil {
			return sel, err
		}
		f.TagIDs, filtered = local, true
	}
	if channels := nonEmpty(q["channelIds"]); len(channels) > 0 {
		local, err := graph.LocalIDs(channels, graph.TypeChannel, "channelIds")
		if err != nil {
			return sel, err
		}
		f.ChannelIDs, filtered = local, true
	}
	f.TagMatch = rubrica.TagMatchAny
	if m := q.Get("tagMatch"); m != "" {
		switch m := rubrica.TagMatch(strings.ToUpper(m)); m {
		case rubrica.TagMatchAny, rubrica.TagMatchAll:
			f.TagMatch = m
		default:
			return sel, rubrica.InvalidField("tagMatch", "tagMatch is ANY or ALL.")
		}
	}
	if b := q.Get("blocked"); b != "" {
		v, err := strconv.ParseBool(b)
		if err != nil {
			return sel, rubrica.InvalidField("blocked", "blocked is true or false.")
		}
		f.Blocked, filtered = &v, true
	}
	if a := q.Get("assigneeId"); a != "" {
		local, err := graph.LocalIDs([]string{a}, graph.TypeMember, "assigneeId")
		if err != nil {
			return sel, err
		}
		f.AssigneeID, filtered = &local[0], true
	}
	if c := q.Get("country"); c != "" {
		f.Country, filtered = &c, true
	}
	if filtered || sel.IDs == nil {
		// No ids and no filter: every contact (the empty filter).
		sel.Filter = &f
	}
	return sel, nil
}

func nonEmpty(vs []string) []string {
	var out []string
	for _, v := range vs {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}
