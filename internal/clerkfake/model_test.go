package clerkfake

import (
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// Decoding types written independently of the package's wire structs, so
// that the replay test checks the payloads, not the encoder against itself.

type tEnvelope struct {
	Data       json.RawMessage `json:"data"`
	Object     string          `json:"object"`
	Type       string          `json:"type"`
	Timestamp  int64           `json:"timestamp"`
	InstanceID string          `json:"instance_id"`
}

type tEmail struct {
	ID           string `json:"id"`
	Object       string `json:"object"`
	EmailAddress string `json:"email_address"`
	Verification struct {
		Status   string `json:"status"`
		Strategy string `json:"strategy"`
	} `json:"verification"`
	CreatedAt int64 `json:"created_at"`
	UpdatedAt int64 `json:"updated_at"`
}

type tUser struct {
	ID                    string          `json:"id"`
	Object                string          `json:"object"`
	ExternalID            *string         `json:"external_id"`
	Username              *string         `json:"username"`
	FirstName             *string         `json:"first_name"`
	LastName              *string         `json:"last_name"`
	ImageURL              string          `json:"image_url"`
	HasImage              bool            `json:"has_image"`
	PrimaryEmailAddressID *string         `json:"primary_email_address_id"`
	EmailAddresses        []tEmail        `json:"email_addresses"`
	PublicMetadata        json.RawMessage `json:"public_metadata"`
	PrivateMetadata       json.RawMessage `json:"private_metadata"`
	UnsafeMetadata        json.RawMessage `json:"unsafe_metadata"`
	Banned                bool            `json:"banned"`
	Locked                bool            `json:"locked"`
	PasswordEnabled       bool            `json:"password_enabled"`
	TwoFactorEnabled      bool            `json:"two_factor_enabled"`
	LastSignInAt          *int64          `json:"last_sign_in_at"`
	CreatedAt             int64           `json:"created_at"`
	UpdatedAt             int64           `json:"updated_at"`
}

func (w tUser) truth() User {
	u := User{
		ID: w.ID, ExternalID: w.ExternalID, Username: w.Username, FirstName: w.FirstName,
		LastName: w.LastName, ImageURL: w.ImageURL, HasImage: w.HasImage,
		PrimaryEmailAddressID: w.PrimaryEmailAddressID, PublicMetadata: w.PublicMetadata,
		PrivateMetadata: w.PrivateMetadata, UnsafeMetadata: w.UnsafeMetadata, Banned: w.Banned,
		Locked: w.Locked, PasswordEnabled: w.PasswordEnabled, TwoFactorEnabled: w.TwoFactorEnabled,
		LastSignInAt: w.LastSignInAt, CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt,
	}
	for _, e := range w.EmailAddresses {
		u.EmailAddresses = append(u.EmailAddresses, EmailAddress{
			ID: e.ID, EmailAddress: e.EmailAddress, Verified: e.Verification.Status == "verified",
			CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt,
		})
	}
	return u
}

type tOrg struct {
	ID                    string          `json:"id"`
	Object                string          `json:"object"`
	Name                  string          `json:"name"`
	Slug                  string          `json:"slug"`
	ImageURL              string          `json:"image_url"`
	HasImage              bool            `json:"has_image"`
	MaxAllowedMemberships int64           `json:"max_allowed_memberships"`
	AdminDeleteEnabled    bool            `json:"admin_delete_enabled"`
	PublicMetadata        json.RawMessage `json:"public_metadata"`
	PrivateMetadata       json.RawMessage `json:"private_metadata"`
	CreatedBy             string          `json:"created_by"`
	CreatedAt             int64           `json:"created_at"`
	UpdatedAt             int64           `json:"updated_at"`
}

func (w tOrg) truth() Organization {
	return Organization{
		ID: w.ID, Name: w.Name, Slug: w.Slug, ImageURL: w.ImageURL, HasImage: w.HasImage,
		CreatedBy: w.CreatedBy, MaxAllowedMemberships: w.MaxAllowedMemberships,
		AdminDeleteEnabled: w.AdminDeleteEnabled, PublicMetadata: w.PublicMetadata,
		PrivateMetadata: w.PrivateMetadata, CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt,
	}
}

type tMembership struct {
	ID              string          `json:"id"`
	Object          string          `json:"object"`
	Role            string          `json:"role"`
	RoleName        string          `json:"role_name"`
	Permissions     []string        `json:"permissions"`
	PublicMetadata  json.RawMessage `json:"public_metadata"`
	PrivateMetadata json.RawMessage `json:"private_metadata"`
	Organization    json.RawMessage `json:"organization"`
	PublicUserData  struct {
		UserID     string  `json:"user_id"`
		FirstName  *string `json:"first_name"`
		LastName   *string `json:"last_name"`
		ImageURL   string  `json:"image_url"`
		HasImage   bool    `json:"has_image"`
		Identifier string  `json:"identifier"`
	} `json:"public_user_data"`
	CreatedAt int64 `json:"created_at"`
	UpdatedAt int64 `json:"updated_at"`
}

// replay is the trivial consumer the history is checked against: apply
// events in order, newest state wins, deletes cascade at their timestamp.
type replay struct {
	t        *testing.T
	users    map[string]User
	orgs     map[string]Organization
	mems     map[string]Membership
	orgData  map[string]json.RawMessage // last organization.created/updated data
	userData map[string]User
	types    map[string]int
}

func newReplay(t *testing.T) *replay {
	return &replay{
		t: t, users: map[string]User{}, orgs: map[string]Organization{}, mems: map[string]Membership{},
		orgData: map[string]json.RawMessage{}, userData: map[string]User{}, types: map[string]int{},
	}
}

func decodeStrict(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
}

func (rp *replay) apply(ev Event) {
	t := rp.t
	t.Helper()
	var env tEnvelope
	decodeStrict(t, ev.Body, &env)
	rp.types[env.Type]++
	switch env.Type {
	case TypeUserCreated, TypeUserUpdated:
		var w tUser
		decodeStrict(t, env.Data, &w)
		u := w.truth()
		rp.users[u.ID] = u
		rp.userData[u.ID] = u
	case TypeUserDeleted:
		u := rp.users[ev.ObjectID]
		u.Deleted, u.DeletedAt = true, env.Timestamp
		rp.users[ev.ObjectID] = u
		rp.cascade(env.Timestamp, func(ms Membership) bool { return ms.UserID == ev.ObjectID })
	case TypeOrganizationCreated, TypeOrganizationUpdated:
		var w tOrg
		decodeStrict(t, env.Data, &w)
		rp.orgs[w.ID] = w.truth()
		rp.orgData[w.ID] = env.Data
	case TypeOrganizationDeleted:
		o := rp.orgs[ev.ObjectID]
		o.Deleted, o.DeletedAt = true, env.Timestamp
		rp.orgs[ev.ObjectID] = o
		rp.cascade(env.Timestamp, func(ms Membership) bool { return ms.OrganizationID == ev.ObjectID })
	case TypeMembershipCreated, TypeMembershipUpdated, TypeMembershipDeleted:
		var w tMembership
		decodeStrict(t, env.Data, &w)
		var org tOrg
		decodeStrict(t, w.Organization, &org)
		// The embedded organization is the current one: byte-identical to
		// the data of the latest organization event.
		if want := rp.orgData[org.ID]; !bytes.Equal(w.Organization, want) {
			t.Errorf("%s %s: embedded organization\n got %s\nwant %s", env.Type, w.ID, w.Organization, want)
		}
		u, ok := rp.userData[w.PublicUserData.UserID]
		if !ok {
			t.Fatalf("%s %s references unseen user %s", env.Type, w.ID, w.PublicUserData.UserID)
		}
		pud := w.PublicUserData
		if !reflect.DeepEqual(pud.FirstName, u.FirstName) || !reflect.DeepEqual(pud.LastName, u.LastName) ||
			pud.ImageURL != u.ImageURL || pud.HasImage != u.HasImage || pud.Identifier != wantIdentifier(u) {
			t.Errorf("%s %s: public_user_data %+v does not match user %+v", env.Type, w.ID, pud, u)
		}
		ms := Membership{
			ID: w.ID, OrganizationID: org.ID, UserID: pud.UserID, Role: w.Role, RoleName: w.RoleName,
			Permissions: w.Permissions, PublicMetadata: w.PublicMetadata, PrivateMetadata: w.PrivateMetadata,
			CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt,
		}
		if env.Type == TypeMembershipDeleted {
			ms.Deleted, ms.DeletedAt = true, env.Timestamp
		}
		rp.mems[ms.ID] = ms
	}
}

// cascade deletes, at the parent's deletion time, the live memberships of a
// deleted user or organization that of picks out.
func (rp *replay) cascade(at int64, of func(Membership) bool) {
	for id, ms := range rp.mems {
		if of(ms) && !ms.Deleted {
			ms.Deleted, ms.DeletedAt = true, at
			rp.mems[id] = ms
		}
	}
}

func wantIdentifier(u User) string {
	if p := u.PrimaryEmailAddress(); p != nil {
		return *p
	}
	if u.Username != nil {
		return *u.Username
	}
	if len(u.EmailAddresses) > 0 {
		return u.EmailAddresses[0].EmailAddress
	}
	return ""
}

func sortedValues[T any](mp map[string]T) []T {
	out := make([]T, 0, len(mp))
	for _, k := range slices.Sorted(maps.Keys(mp)) {
		out = append(out, mp[k])
	}
	return out
}

// Empty and nil slices are the same state; JSON cannot tell them apart.
func normUsers(us []User) []User {
	for i := range us {
		if len(us[i].EmailAddresses) == 0 {
			us[i].EmailAddresses = nil
		}
	}
	return us
}

func normMems(ms []Membership) []Membership {
	for i := range ms {
		if len(ms[i].Permissions) == 0 {
			ms[i].Permissions = nil
		}
	}
	return ms
}

func TestHistoryIsDeterministic(t *testing.T) {
	a, b := New(42).History(500), New(42).History(500)
	if len(a) != len(b) {
		t.Fatalf("lengths differ: %d vs %d", len(a), len(b))
	}
	for i := range a {
		if a[i].ID != b[i].ID || a[i].Type != b[i].Type || a[i].Timestamp != b[i].Timestamp || !bytes.Equal(a[i].Body, b[i].Body) {
			t.Fatalf("event %d differs:\n%s\n%s", i, a[i].Body, b[i].Body)
		}
	}
	c := New(43).History(500)
	if bytes.Equal(a[0].Body, c[0].Body) {
		t.Error("seeds 42 and 43 produced the same first event")
	}
}

func TestEnvelope(t *testing.T) {
	m := New(7)
	m.SetUnsyncedRate(0.05)
	evs := m.History(1000)
	wantKeys := []string{"data", "event_attributes", "instance_id", "object", "timestamp", "type"}
	known := map[string]bool{TypeSessionCreated: true}
	for _, typ := range SyncedTypes() {
		known[typ] = true
	}
	ids := map[string]bool{}
	var last int64
	sessions := 0
	for i, ev := range evs {
		var raw map[string]json.RawMessage
		decodeStrict(t, ev.Body, &raw)
		if keys := slices.Sorted(maps.Keys(raw)); !slices.Equal(keys, wantKeys) {
			t.Fatalf("event %d keys %v, want %v", i, keys, wantKeys)
		}
		var env tEnvelope
		decodeStrict(t, ev.Body, &env)
		var attrs struct {
			HTTPRequest *struct {
				ClientIP  *string `json:"client_ip"`
				UserAgent *string `json:"user_agent"`
			} `json:"http_request"`
		}
		decodeStrict(t, raw["event_attributes"], &attrs)
		switch {
		case env.Object != "event" || env.Type != ev.Type || env.Timestamp != ev.Timestamp || env.InstanceID != m.InstanceID():
			t.Fatalf("event %d envelope %+v does not match %+v", i, env, ev)
		case !known[ev.Type]:
			t.Fatalf("event %d has unknown type %q", i, ev.Type)
		case !strings.HasPrefix(ev.ID, "msg_") || len(ev.ID) != 31 || ids[ev.ID]:
			t.Fatalf("event %d id %q is malformed or repeated", i, ev.ID)
		case ev.Timestamp <= last:
			t.Fatalf("event %d timestamp %d does not increase (previous %d)", i, ev.Timestamp, last)
		case !strings.HasPrefix(env.InstanceID, "ins_"):
			t.Fatalf("instance id %q", env.InstanceID)
		case attrs.HTTPRequest == nil || attrs.HTTPRequest.ClientIP == nil || attrs.HTTPRequest.UserAgent == nil:
			t.Fatalf("event %d event_attributes %s", i, raw["event_attributes"])
		}
		ids[ev.ID] = true
		last = ev.Timestamp
		if ev.Synced() != (ev.Type != TypeSessionCreated) {
			t.Errorf("Synced() wrong for %s", ev.Type)
		}
		if ev.Type == TypeSessionCreated {
			sessions++
		}

		var data map[string]json.RawMessage
		decodeStrict(t, env.Data, &data)
		var id string
		decodeStrict(t, data["id"], &id)
		if id != ev.ObjectID {
			t.Fatalf("event %d data.id %s, ObjectID %s", i, id, ev.ObjectID)
		}
		var updatedAt int64
		switch {
		case strings.HasSuffix(ev.Type, ".created") || strings.HasSuffix(ev.Type, ".updated"):
			decodeStrict(t, data["updated_at"], &updatedAt)
			if updatedAt != ev.Timestamp {
				t.Fatalf("event %d (%s): updated_at %d != timestamp %d", i, ev.Type, updatedAt, ev.Timestamp)
			}
		case ev.Type == TypeUserDeleted:
			checkKeys(t, data, "deleted", "external_id", "id", "object")
			if string(data["deleted"]) != "true" || string(data["object"]) != `"user"` {
				t.Fatalf("user.deleted data %s", env.Data)
			}
		case ev.Type == TypeOrganizationDeleted:
			checkKeys(t, data, "deleted", "id", "object", "slug")
			if string(data["deleted"]) != "true" || string(data["object"]) != `"organization"` {
				t.Fatalf("organization.deleted data %s", env.Data)
			}
		case ev.Type == TypeMembershipDeleted:
			// The full membership, with its last update, not the deletion.
			decodeStrict(t, data["updated_at"], &updatedAt)
			if updatedAt >= ev.Timestamp || data["organization"] == nil || data["public_user_data"] == nil {
				t.Fatalf("event %d: membership delete data %s at %d", i, env.Data, ev.Timestamp)
			}
		}
	}
	if sessions == 0 {
		t.Error("SetUnsyncedRate produced no session.created events")
	}
}

func checkKeys(t *testing.T, data map[string]json.RawMessage, want ...string) {
	t.Helper()
	if keys := slices.Sorted(maps.Keys(data)); !slices.Equal(keys, want) {
		t.Fatalf("data keys %v, want %v", keys, want)
	}
}

func TestReplayReproducesTruth(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3, 99} {
		m := New(seed)
		m.SetUnsyncedRate(0.02)
		rp := newReplay(t)
		var evs []Event
		evs = append(evs, m.History(1500)...)
		// Mix in the explicit mutators, as a reconciliation test would.
		u, more := m.CreateUser()
		evs = append(evs, more...)
		o, more, err := m.CreateOrganization(u.ID)
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, more...)
		more, err = m.EditUser(u.ID, func(u *User) {
			u.FirstName = ptr("Grace")
			u.EmailAddresses = append(u.EmailAddresses, EmailAddress{EmailAddress: "grace.hopper.1@example.com", Verified: true})
		})
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, more...)
		more, err = m.DeleteOrganization(o.ID)
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, more...)

		for _, ev := range evs {
			rp.apply(ev)
		}
		if got, want := normUsers(sortedValues(rp.users)), normUsers(m.Users()); !reflect.DeepEqual(got, want) {
			t.Errorf("seed %d: replayed users differ from truth\n%s", seed, firstDiff(got, want))
		}
		if got, want := sortedValues(rp.orgs), m.Organizations(); !reflect.DeepEqual(got, want) {
			t.Errorf("seed %d: replayed organizations differ from truth\n%s", seed, firstDiff(got, want))
		}
		if got, want := normMems(sortedValues(rp.mems)), normMems(m.Memberships()); !reflect.DeepEqual(got, want) {
			t.Errorf("seed %d: replayed memberships differ from truth\n%s", seed, firstDiff(got, want))
		}
		for _, typ := range append(SyncedTypes(), TypeSessionCreated) {
			if rp.types[typ] == 0 {
				t.Errorf("seed %d: no %s in %v", seed, typ, rp.types)
			}
		}
	}
}

func firstDiff[T any](got, want []T) string {
	if len(got) != len(want) {
		return "lengths " + itoa(len(got)) + " vs " + itoa(len(want))
	}
	for i := range got {
		if !reflect.DeepEqual(got[i], want[i]) {
			g, _ := json.Marshal(got[i])
			w, _ := json.Marshal(want[i])
			return "got  " + string(g) + "\nwant " + string(w)
		}
	}
	return ""
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// A short history must already exercise every kind of change.
func TestShortHistoryHasAllKinds(t *testing.T) {
	deletions := 0
	for seed := uint64(1); seed <= 20; seed++ {
		m := New(seed)
		evs := m.History(50)
		if len(evs) < 50 || len(evs) > 60 {
			t.Errorf("seed %d: History(50) returned %d events", seed, len(evs))
		}
		count := map[string]int{}
		for _, ev := range evs {
			count[ev.Type]++
		}
		if count[TypeUserCreated] < 3 || count[TypeOrganizationCreated] < 2 || count[TypeMembershipCreated] < 1 ||
			count[TypeUserUpdated] < 1 {
			t.Errorf("seed %d: thin history %v", seed, count)
		}
		deletions += count[TypeUserDeleted] + count[TypeOrganizationDeleted] + count[TypeMembershipDeleted]
	}
	if deletions < 20 {
		t.Errorf("only %d deletions in 20 histories of 50 events", deletions)
	}
}

// The awkward states other tests rely on must actually occur.
func TestHistoryCoversEdgeCases(t *testing.T) {
	m := New(5)
	evs := m.History(4000)
	var noEmail, noPrimaryWithEmail, banned, nullLastName, customRole, silentCascade, loudCascade bool
	for _, u := range m.Users() {
		noEmail = noEmail || len(u.EmailAddresses) == 0
		noPrimaryWithEmail = noPrimaryWithEmail || (len(u.EmailAddresses) > 0 && u.PrimaryEmailAddress() == nil)
		banned = banned || u.Banned
		nullLastName = nullLastName || u.LastName == nil
		if u.PrimaryEmailAddress() == nil && u.Username == nil && len(u.EmailAddresses) == 0 {
			t.Errorf("user %s has no identifier at all", u.ID)
		}
	}
	emitted := map[string]bool{}
	for _, ev := range evs {
		if ev.Type == TypeMembershipDeleted {
			emitted[ev.ObjectID] = true
		}
	}
	users := map[string]User{}
	for _, u := range m.Users() {
		users[u.ID] = u
	}
	orgs := map[string]Organization{}
	for _, o := range m.Organizations() {
		orgs[o.ID] = o
	}
	pairs := map[[2]string]bool{}
	for _, ms := range m.Memberships() {
		customRole = customRole || (ms.Role != "org:admin" && ms.Role != "org:member")
		u, o := users[ms.UserID], orgs[ms.OrganizationID]
		if ms.CreatedAt <= u.CreatedAt || ms.CreatedAt <= o.CreatedAt || (u.Deleted && ms.CreatedAt > u.DeletedAt) || (o.Deleted && ms.CreatedAt > o.DeletedAt) {
			t.Errorf("membership %s created outside its parents' lifetimes", ms.ID)
		}
		if (u.Deleted || o.Deleted) && !ms.Deleted {
			t.Errorf("membership %s survives its deleted parent", ms.ID)
		}
		if !ms.Deleted {
			key := [2]string{ms.OrganizationID, ms.UserID}
			if pairs[key] {
				t.Errorf("user %s is twice in organization %s", ms.UserID, ms.OrganizationID)
			}
			pairs[key] = true
		}
		if ms.Deleted && (u.Deleted && ms.DeletedAt == u.DeletedAt || o.Deleted && ms.DeletedAt == o.DeletedAt) {
			silentCascade = silentCascade || !emitted[ms.ID]
		}
		if ms.Deleted && emitted[ms.ID] && (u.Deleted || o.Deleted) {
			loudCascade = true
		}
	}
	for name, ok := range map[string]bool{
		"user without email": noEmail, "user with email but no primary": noPrimaryWithEmail,
		"banned user": banned, "null last name": nullLastName, "custom role": customRole,
		"cascade without membership event": silentCascade, "cascade with membership event": loudCascade,
	} {
		if !ok {
			t.Errorf("4000 events never produced a %s", name)
		}
	}
}

func TestMutatorErrors(t *testing.T) {
	m := New(1)
	u, _ := m.CreateUser()
	o, _, err := m.CreateOrganization(u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.CreateMembership(o.ID, u.ID); !errors.Is(err, ErrConflict) {
		t.Errorf("joining twice: %v, want ErrConflict", err)
	}
	if _, err := m.EditOrganization(o.ID, func(o *Organization) { o.Slug = "acme" }); err != nil {
		t.Fatal(err)
	}
	o2, _, _ := m.CreateOrganization("")
	if _, err := m.EditOrganization(o2.ID, func(o *Organization) { o.Slug = "acme" }); !errors.Is(err, ErrConflict) {
		t.Errorf("duplicate slug: %v, want ErrConflict", err)
	}
	if _, err := m.EditUser(u.ID, func(u *User) { u.PrimaryEmailAddressID = ptr("idn_nope") }); !errors.Is(err, ErrConflict) {
		t.Errorf("foreign primary email: %v, want ErrConflict", err)
	}
	if _, err := m.DeleteUser(u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := m.UpdateUser(u.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("updating a deleted user: %v, want ErrNotFound", err)
	}
	if _, _, err := m.CreateMembership(o.ID, u.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("membership of a deleted user: %v, want ErrNotFound", err)
	}
	if _, _, err := m.CreateOrganization("user_missing"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown creator: %v, want ErrNotFound", err)
	}
	if got := m.UserJSON("user_missing"); got != nil {
		t.Errorf("UserJSON of unknown id = %s", got)
	}
	if nu, no, nm := m.Counts(); nu != 0 || no != 2 || nm != 0 {
		t.Errorf("Counts() = %d, %d, %d", nu, no, nm)
	}
}

// Returned values are copies: editing them must not change the truth.
func TestAccessorsCopy(t *testing.T) {
	m := New(3)
	m.History(200)
	before := m.Users()
	for _, u := range m.Users() {
		if u.FirstName != nil {
			*u.FirstName = "Mallory"
		}
		if len(u.EmailAddresses) > 0 {
			u.EmailAddresses[0].EmailAddress = "mallory@example.com"
		}
		if len(u.PublicMetadata) > 0 {
			u.PublicMetadata[0] = 'X'
		}
	}
	if !reflect.DeepEqual(before, m.Users()) {
		t.Error("editing returned users changed the model")
	}
}

func TestPopulate(t *testing.T) {
	m := New(11)
	m.History(100)
	u0, o0, m0 := m.Counts()
	m.Populate(2000, 200, 3000)
	u1, o1, m1 := m.Counts()
	if u1-u0 != 2000 || o1-o0 != 200 || m1-m0 != 3000 {
		t.Fatalf("Populate added %d users, %d orgs, %d memberships", u1-u0, o1-o0, m1-m0)
	}
	// Populated objects must be as well-formed as generated ones: replaying
	// their JSON must give back the truth.
	for _, u := range m.Users()[:50] {
		var w tUser
		decodeStrict(t, m.UserJSON(u.ID), &w)
		if got, want := normUsers([]User{w.truth()}), normUsers([]User{u}); !u.Deleted && !reflect.DeepEqual(got, want) {
			t.Errorf("user %s JSON does not round-trip:\n%s", u.ID, firstDiff(got, want))
		}
	}
	// Creation order is still created_at order, which the API relies on.
	m.mu.Lock()
	for i := 1; i < len(m.userSeq); i++ {
		if m.userSeq[i].CreatedAt <= m.userSeq[i-1].CreatedAt {
			t.Fatal("userSeq is not in created_at order")
		}
	}
	m.mu.Unlock()
	// Only a few distinct pairs exist: Populate stops instead of spinning.
	small := New(1)
	small.Populate(2, 2, 100)
	if _, _, n := small.Counts(); n != 4 {
		t.Errorf("2 users x 2 orgs gave %d memberships, want 4", n)
	}
}

func BenchmarkPopulate(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		New(1).Populate(100_000, 10_000, 100_000)
	}
}
