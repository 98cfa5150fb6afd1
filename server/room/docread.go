package room

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/yardhq/yard/crdt"
	"github.com/yardhq/yard/server/errcode"
)

// DocJSON returns room id's document encoded as JSON, as yjs toJSON gives it, with the roots named
// in maps typed as maps and those in arrays as arrays first (an emptied map then reads as {}, as
// in the browser). A document
// over Options.MaxReadDocBytes is refused (too_large), and the JSON of an unchanged document is
// served from a cache, so repeated reads cannot make the server encode or hold much.
func (m *Manager) DocJSON(ctx context.Context, id string, maps, arrays []string) ([]byte, error) {
	var body []byte
	var ferr error
	limit := m.opts.MaxReadDocBytes
	err := m.read(ctx, id, limit, func(d *crdt.Doc, size int) {
		if size > limit {
			ferr = docTooLarge(id, size, limit)
			return
		}
		version := strings.Join(maps, ",") + "\x00" + strings.Join(arrays, ",") + "\x00" + string(d.EncodeStateVector()) + string(d.EncodeDeleteSet())
		if b, ok := m.docs.get(id, version); ok {
			body = b
			return
		}
		for _, name := range d.RootNames() {
			if slices.Contains(maps, name) {
				d.GetMap(name)
			}
			if slices.Contains(arrays, name) {
				d.GetArray(name)
			}
		}
		body, ferr = json.Marshal(d.RootJSON())
		if ferr == nil {
			m.docs.encodes.Add(1)
			m.docs.put(id, version, body)
		}
	})
	if err != nil {
		return nil, err
	}
	return body, ferr
}

func docTooLarge(id string, size, limit int) error {
	return errcode.Errorf(errcode.TooLarge, "room %s's document is about %d bytes, more than the %d this API encodes", id, size, limit)
}

// docCacheBytes bounds the JSON docCache holds.
const docCacheBytes = 64 << 20

// docCache holds the JSON of recently read documents, one per room, with the version it is of
// (the document's state vector and delete set: deletions do not move the state vector).
type docCache struct {
	mu      sync.Mutex
	by      map[string]cachedDoc
	bytes   int
	encodes atomic.Int64 // documents encoded, for tests
}

type cachedDoc struct {
	version string
	body    []byte
}

func (c *docCache) get(room, version string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	d, ok := c.by[room]
	if !ok || d.version != version {
		return nil, false
	}
	return d.body, true
}

func (c *docCache) put(room, version string, body []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.by == nil {
		c.by = map[string]cachedDoc{}
	}
	if old, ok := c.by[room]; ok {
		c.bytes -= len(old.body) + len(old.version)
		delete(c.by, room)
	}
	size := len(body) + len(version)
	if size > docCacheBytes {
		return
	}
	for other, d := range c.by { // any other room's: a cache miss costs one encoding
		if c.bytes+size <= docCacheBytes {
			break
		}
		c.bytes -= len(d.body) + len(d.version)
		delete(c.by, other)
	}
	c.by[room] = cachedDoc{version: version, body: body}
	c.bytes += size
}
