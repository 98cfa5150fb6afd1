package directory

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"
)

// Config names the replica and times its entries.
type Config struct {
	// Replica names this process in every scope; it must differ between replicas. Required.
	Replica string
	// TTL is how long an entry lives after its last write: how long a killed replica's entries
	// stay listed. Default 30s.
	TTL time.Duration
	// Refresh is how often the replica rewrites all of its entries. Default 10s; at most TTL/2,
	// so one failed refresh loses nothing.
	Refresh time.Duration
}

// DefaultConfig returns the documented defaults (Replica is left empty).
func DefaultConfig() Config { return Config{TTL: 30 * time.Second, Refresh: 10 * time.Second} }

func (c *Config) defaults() {
	d := DefaultConfig()
	if c.TTL == 0 {
		c.TTL = d.TTL
	}
	if c.Refresh == 0 {
		c.Refresh = d.Refresh
	}
}

// Validate reports a config that cannot work (zero TTL and Refresh mean their defaults).
func (c Config) Validate() error {
	c.defaults()
	var errs []error
	if c.Replica == "" {
		errs = append(errs, errors.New("directory: a replica name is required"))
	}
	if c.Refresh < 10*time.Millisecond {
		errs = append(errs, fmt.Errorf("directory: refresh %s is under 10ms", c.Refresh))
	}
	if c.TTL < 2*c.Refresh {
		errs = append(errs, fmt.Errorf("directory: TTL %s is under twice the refresh (%s)", c.TTL, c.Refresh))
	}
	return errors.Join(errs...)
}

// Directory is one replica's view of the directory: it writes and renews this replica's
// entries and reads everyone's.
type Directory struct {
	store Store
	cfg   Config
	log   *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// writing orders this replica's writes to the store (one at a time), so a refresh never
	// rewrites an entry that a later Put replaced or a Delete removed. A channel, so a waiting
	// caller's context still counts.
	writing chan struct{}

	mu     sync.Mutex
	own    map[key]record
	closed bool
}

type key struct{ scope, id string }

// New starts the replica's refresher on store; Close stops it and deletes the replica's entries.
func New(store Store, cfg Config, log *slog.Logger) (*Directory, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.defaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	d := &Directory{
		store: store, cfg: cfg, log: log, ctx: ctx, cancel: cancel,
		writing: make(chan struct{}, 1), own: map[key]record{},
	}
	d.wg.Go(d.refresh)
	return d, nil
}

// Replica names this process.
func (d *Directory) Replica() string { return d.cfg.Replica }

// lock takes the write turn, or gives up when ctx ends.
func (d *Directory) lock(ctx context.Context) error {
	select {
	case d.writing <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (d *Directory) unlock() { <-d.writing }

// Put makes value this replica's entry id in scope (replacing what it was) and writes it. An
// entry this replica once claimed stays in its group. When the store cannot be reached (or ctx
// ends first) the entry is still this replica's: the next refresh writes it.
func (d *Directory) Put(ctx context.Context, scope, id string, value []byte) error {
	if !validScope(scope) {
		return fmt.Errorf("directory: invalid scope %q", scope)
	}
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return ErrClosed
	}
	k := key{scope, id}
	rec := record{scope: scope, id: id, group: d.own[k].group, value: slices.Clone(value)}
	d.own[k] = rec
	d.mu.Unlock()
	if err := d.lock(ctx); err != nil {
		return err
	}
	defer d.unlock()
	return d.store.put(ctx, d.cfg.TTL, rec)
}

// Claim is Put for an entry of a group (a shell session of its owner): it is refused with
// ErrLimit when the group already has max live entries in scope besides id, on any replica.
// Counting and writing are one step. A refused or failed claim leaves nothing behind.
func (d *Directory) Claim(ctx context.Context, scope, id, group string, max int, value []byte) error {
	if !validScope(scope) || group == "" {
		return fmt.Errorf("directory: invalid scope %q or empty group", scope)
	}
	if err := d.lock(ctx); err != nil {
		return err
	}
	defer d.unlock()
	d.mu.Lock()
	closed := d.closed
	d.mu.Unlock()
	if closed {
		return ErrClosed
	}
	rec := record{scope: scope, id: id, group: group, value: slices.Clone(value)}
	if err := d.store.claim(ctx, d.cfg.TTL, rec, max); err != nil {
		return err
	}
	d.mu.Lock()
	d.own[key{scope, id}] = rec
	d.mu.Unlock()
	return nil
}

// Delete removes this replica's entry id from scope (and frees its claim). An entry the store
// could not delete (or ctx ended first) expires after the TTL, since nothing renews it any more.
func (d *Directory) Delete(ctx context.Context, scope, id string) error {
	k := key{scope, id}
	d.mu.Lock()
	rec, ok := d.own[k]
	delete(d.own, k)
	d.mu.Unlock()
	if !ok {
		rec = record{scope: scope, id: id}
	}
	if err := d.lock(ctx); err != nil {
		return err
	}
	defer d.unlock()
	return d.store.delete(ctx, rec)
}

// Get returns the live entry id of scope, whichever replica put it (ErrNotFound if none).
func (d *Directory) Get(ctx context.Context, scope, id string) ([]byte, error) {
	return d.store.get(ctx, scope, id)
}

// List returns every live entry of scope, of every replica, sorted by id. Another replica's
// entries are as fresh as its last write.
func (d *Directory) List(ctx context.Context, scope string) ([]Entry, error) {
	return d.store.list(ctx, scope)
}

// refresh rewrites this replica's entries every Refresh, so they outlive the TTL while the
// replica runs.
func (d *Directory) refresh() {
	t := time.NewTicker(d.cfg.Refresh)
	defer t.Stop()
	for {
		select {
		case <-d.ctx.Done():
			return
		case <-t.C:
		}
		if err := d.refreshOnce(); err != nil && d.ctx.Err() == nil {
			d.log.Warn("refreshing the replica's directory entries", "err", err)
		}
	}
}

func (d *Directory) refreshOnce() error {
	ctx, cancel := context.WithTimeout(d.ctx, min(d.cfg.Refresh, 5*time.Second))
	defer cancel()
	return d.allOwn(ctx, false, func(recs []record) error { return d.store.put(ctx, d.cfg.TTL, recs...) })
}

// allOwn takes the write turn and hands fn this replica's entries, if it has any (forgetting
// them first when forget is set).
func (d *Directory) allOwn(ctx context.Context, forget bool, fn func([]record) error) error {
	if err := d.lock(ctx); err != nil {
		return err
	}
	defer d.unlock()
	d.mu.Lock()
	recs := slices.Collect(maps.Values(d.own))
	if forget {
		clear(d.own)
	}
	d.mu.Unlock()
	if len(recs) == 0 {
		return nil
	}
	return fn(recs)
}

// Close stops the refresher and deletes this replica's entries, so a clean shutdown leaves
// nothing listed. Writes after Close fail with ErrClosed.
func (d *Directory) Close() error {
	if !d.stop() {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return d.allOwn(ctx, true, func(recs []record) error { return d.store.delete(ctx, recs...) })
}

// stop ends the refresher and refuses later writes; it reports whether this call stopped it.
func (d *Directory) stop() bool {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return false
	}
	d.closed = true
	d.mu.Unlock()
	d.cancel()
	d.wg.Wait()
	return true
}
