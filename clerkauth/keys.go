package clerkauth

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/clerk/clerk-sdk-go/v2"
	"github.com/clerk/clerk-sdk-go/v2/jwks"
)

// keyCache holds one instance's session keys. Unlike the SDK middleware's
// package-level cache it is per Verifier (two instances in one process never
// share keys), its expiry counts from the fetch and is never pushed back by
// use, and unknown key ids cannot make it fetch more than once per
// minRefetch: a flood of tokens with random kids costs one JWKS request per
// interval, not one per request.
type keyCache struct {
	client     *jwks.Client
	clock      clerk.Clock
	ttl        time.Duration
	minRefetch time.Duration
	staleGrace time.Duration
	timeout    time.Duration
	metrics    *Metrics

	mu          sync.Mutex
	keys        map[string]*clerk.JSONWebKey
	expiresAt   time.Time // of keys; zero until a fetch succeeds
	lastAttempt time.Time // of any fetch, for the refetch bound
	inflight    *fetchCall
}

type fetchCall struct {
	done chan struct{}
	err  error
}

var (
	errUnknownKid     = errors.New("key id not in the instance's key set")
	errFetchThrottled = errors.New("the last fetch failed and the next is not due yet")
)

// get returns the key kid, fetching the set when it expired or, within the
// refetch bound, when kid is unknown (keys are rotated by adding one). until
// is when the set holding the key expires; zero for a stale key served
// while fetching fails.
func (c *keyCache) get(ctx context.Context, kid string) (key *clerk.JSONWebKey, until time.Time, err error) {
	for {
		now := c.clock.Now()
		c.mu.Lock()
		fresh := c.keys != nil && now.Before(c.expiresAt)
		if k, ok := c.keys[kid]; ok && fresh {
			until := c.expiresAt
			c.mu.Unlock()
			return k, until, nil
		}
		if call := c.inflight; call != nil {
			c.mu.Unlock()
			select {
			case <-call.done:
				continue // look again with what it fetched
			case <-ctx.Done():
				return nil, time.Time{}, refuse(ReasonKeysUnavailable, ctx.Err())
			}
		}
		if !c.lastAttempt.IsZero() && now.Sub(c.lastAttempt) < c.minRefetch {
			// Not allowed to fetch yet: answer from what is held.
			k, known := c.keys[kid]
			stale := c.keys != nil && now.Before(c.expiresAt.Add(c.staleGrace))
			c.mu.Unlock()
			switch {
			case fresh:
				return nil, time.Time{}, refuse(ReasonUnknownKey, errUnknownKid)
			case known && stale:
				return k, time.Time{}, nil
			case stale:
				return nil, time.Time{}, refuse(ReasonUnknownKey, errUnknownKid)
			default:
				return nil, time.Time{}, refuse(ReasonKeysUnavailable, errFetchThrottled)
			}
		}
		call := &fetchCall{done: make(chan struct{})}
		c.inflight = call
		c.lastAttempt = now
		c.mu.Unlock()

		set, err := c.fetch(ctx)
		c.mu.Lock()
		if err == nil {
			c.keys = set
			c.expiresAt = c.clock.Now().Add(c.ttl)
		}
		call.err = err
		c.inflight = nil
		close(call.done)
		if err != nil {
			// Keys past their expiry still serve known kids for staleGrace
			// while Clerk cannot be reached: refusing every session for a
			// blip of the JWKS endpoint would be worse than trusting a key
			// a little longer.
			k, known := c.keys[kid]
			stale := c.keys != nil && c.clock.Now().Before(c.expiresAt.Add(c.staleGrace))
			c.mu.Unlock()
			if known && stale {
				return k, time.Time{}, nil
			}
			return nil, time.Time{}, refuse(ReasonKeysUnavailable, err)
		}
		k, ok := set[kid]
		until := c.expiresAt
		c.mu.Unlock()
		if !ok {
			return nil, time.Time{}, refuse(ReasonUnknownKey, errUnknownKid)
		}
		return k, until, nil
	}
}

// fetch asks the Backend API for the key set. It runs under its own
// timeout, detached from the request that triggered it: other requests
// wait for the same fetch, and one client hanging up must not fail theirs.
func (c *keyCache) fetch(ctx context.Context) (map[string]*clerk.JSONWebKey, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.timeout)
	defer cancel()
	set, err := c.client.Get(ctx, &jwks.GetParams{})
	if err == nil && (set == nil || len(set.Keys) == 0) {
		err = errors.New("the key set is empty")
	}
	c.metrics.fetched(err == nil)
	if err != nil {
		return nil, fmt.Errorf("fetch session keys (GET /jwks): %w", err)
	}
	keys := make(map[string]*clerk.JSONWebKey, len(set.Keys))
	for _, k := range set.Keys {
		if k != nil && k.KeyID != "" {
			keys[k.KeyID] = k
		}
	}
	return keys, nil
}
