package clerkauth

// putBounded stores v under k in a cache map that may hold at most limit
// entries. A full map first drops what has expired; if that frees nothing
// (a burst of distinct keys within one lifetime), it starts over. Both caches
// of this package hold short-lived entries, so a sweep usually frees most of
// the map. The caller holds the cache's lock.
func putBounded[K comparable, V any](entries map[K]V, limit int, k K, v V, expired func(V) bool) {
	if len(entries) >= limit {
		for key, old := range entries {
			if expired(old) {
				delete(entries, key)
			}
		}
		if len(entries) >= limit {
			clear(entries)
		}
	}
	entries[k] = v
}
