package audit

import "time"

// record is what the stores keep: an attempt (pending, or complete when Record made it) or the
// outcome of an earlier attempt. The file keeps one record per line and the Redis stream one per
// stream entry, in the same JSON.
type record struct {
	Attempt *Entry `json:"attempt,omitempty"`
	Done    *done  `json:"done,omitempty"`
}

// done is the outcome of attempt ID, recorded at At.
type done struct {
	ID string    `json:"id"`
	At time.Time `json:"at"`
	Outcome
}

// folder folds records read newest first into the entries a query selects. An outcome is always
// newer than its attempt, so it is met first and waits for it; outcomes whose attempts are not
// met (older than the query reaches, or trimmed) are dropped with the folder.
type folder struct {
	q     Query
	limit int
	dones map[string]done
	out   []Entry
}

func newFolder(q Query) *folder {
	return &folder{q: q, limit: q.limit(), dones: map[string]done{}}
}

// add takes the next older record and reports whether the listing is complete.
func (f *folder) add(r record) (full bool) {
	switch {
	case r.Done != nil:
		if _, newer := f.dones[r.Done.ID]; !newer {
			f.dones[r.Done.ID] = *r.Done
		}
	case r.Attempt != nil:
		e := *r.Attempt
		if d, ok := f.dones[e.ID]; ok {
			delete(f.dones, e.ID)
			if e.Result == ResultPending {
				complete(&e, d.Outcome, d.At)
			}
		}
		if f.q.matches(e) {
			f.out = append(f.out, e)
		}
	}
	return len(f.out) >= f.limit
}

// entries is the listing, newest first; never nil.
func (f *folder) entries() []Entry {
	if f.out == nil {
		return []Entry{}
	}
	return f.out
}
