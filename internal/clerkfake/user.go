package clerkfake

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
)

// EmailAddress is one of a user's email identifications.
type EmailAddress struct {
	ID           string // idn_...
	EmailAddress string
	Verified     bool
	CreatedAt    int64
	UpdatedAt    int64
}

// User is the truth about one Clerk user: the fields syncd stores plus the
// few flags needed to render a realistic payload.
type User struct {
	ID                    string
	ExternalID            *string
	Username              *string
	FirstName             *string
	LastName              *string
	ImageURL              string
	HasImage              bool
	PrimaryEmailAddressID *string
	EmailAddresses        []EmailAddress
	PublicMetadata        json.RawMessage
	PrivateMetadata       json.RawMessage
	UnsafeMetadata        json.RawMessage
	Banned                bool
	Locked                bool
	PasswordEnabled       bool
	TwoFactorEnabled      bool
	LastSignInAt          *int64
	CreatedAt             int64 // Unix ms
	UpdatedAt             int64 // Unix ms
	Deleted               bool
	DeletedAt             int64 // Unix ms; the user.deleted event timestamp
}

// PrimaryEmailAddress returns the address whose id is
// PrimaryEmailAddressID, or nil: Clerk users can have no primary address
// (username-only or phone-only sign-ups, or an unverified address only).
func (u User) PrimaryEmailAddress() *string {
	if u.PrimaryEmailAddressID == nil {
		return nil
	}
	for _, e := range u.EmailAddresses {
		if e.ID == *u.PrimaryEmailAddressID {
			return ptr(e.EmailAddress)
		}
	}
	return nil
}

// identifier is what Clerk shows as public_user_data.identifier: the
// identification the user signs in with.
func (u *User) identifier() string {
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

func (u *User) clone() User {
	c := *u
	c.ExternalID = cloneStr(u.ExternalID)
	c.Username = cloneStr(u.Username)
	c.FirstName = cloneStr(u.FirstName)
	c.LastName = cloneStr(u.LastName)
	c.PrimaryEmailAddressID = cloneStr(u.PrimaryEmailAddressID)
	c.LastSignInAt = cloneInt64(u.LastSignInAt)
	if u.EmailAddresses != nil {
		c.EmailAddresses = append([]EmailAddress(nil), u.EmailAddresses...)
	}
	c.PublicMetadata = cloneRaw(u.PublicMetadata)
	c.PrivateMetadata = cloneRaw(u.PrivateMetadata)
	c.UnsafeMetadata = cloneRaw(u.UnsafeMetadata)
	return c
}

// CreateUser signs up a random new user and returns it with its
// user.created event.
func (m *Model) CreateUser() (User, []Event) {
	m.mu.Lock()
	defer m.mu.Unlock()
	u, evs := m.createUser()
	return u.clone(), evs
}

// UpdateUser applies one or two random changes of the kinds Clerk reports as
// user.updated: names, username, image, external_id, metadata, ban and lock
// state, a sign-in, and email addresses added, removed, verified or made
// primary (sometimes leaving no primary or no address at all).
func (m *Model) UpdateUser(id string) ([]Event, error) {
	return withLive(m, id, m.liveUser, infallible(m.updateUser))
}

// EditUser applies a chosen change, for tests that need a specific drift.
// edit receives a copy; the model keeps ID, CreatedAt and the deletion state,
// sets UpdatedAt, and fills in ids and timestamps of email addresses added
// with an empty ID.
func (m *Model) EditUser(id string, edit func(*User)) ([]Event, error) {
	return withLive(m, id, m.liveUser, func(u *User) ([]Event, error) { return m.editUser(u, edit) })
}

func (m *Model) editUser(u *User, edit func(*User)) ([]Event, error) {
	next := u.clone()
	edit(&next)
	next.ID, next.CreatedAt, next.Deleted, next.DeletedAt = u.ID, u.CreatedAt, false, 0
	if next.PrimaryEmailAddressID != nil {
		found := false
		for _, e := range next.EmailAddresses {
			found = found || e.ID == *next.PrimaryEmailAddressID
		}
		if !found {
			return nil, fmt.Errorf("%w: primary email %s is not an address of user %s", ErrConflict, *next.PrimaryEmailAddressID, u.ID)
		}
	}
	now := m.tick()
	for i := range next.EmailAddresses {
		e := &next.EmailAddresses[i]
		if e.ID == "" {
			e.ID = m.newID("idn_")
		}
		if e.CreatedAt == 0 {
			e.CreatedAt = now
		}
		if e.UpdatedAt < e.CreatedAt {
			e.UpdatedAt = now
		}
	}
	next.UpdatedAt = now
	return m.saveUser(u, next), nil
}

// DeleteUser deletes a user and, as Clerk does, its memberships. Clerk does
// not promise an organizationMembership.deleted event for those, so one is
// emitted for a random subset only; the others share the user's DeletedAt.
func (m *Model) DeleteUser(id string) ([]Event, error) {
	return withLive(m, id, m.liveUser, infallible(m.deleteUser))
}

func (m *Model) liveUser(id string) (*User, error) {
	return liveIn(m.users, "user", id)
}

func (m *Model) randomName() (first, last personName) {
	return pick(m.rng, firstNames), pick(m.rng, lastNames)
}

func (m *Model) newEmail(first, last personName, verified bool, now int64) EmailAddress {
	m.serial++
	addr := first.ascii + "." + last.ascii + "." + strconv.Itoa(m.serial) + "@" + pick(m.rng, emailDomains)
	return EmailAddress{ID: m.newID("idn_"), EmailAddress: addr, Verified: verified, CreatedAt: now, UpdatedAt: now}
}

func (m *Model) newUsername(first, last personName) *string {
	m.serial++
	return ptr(first.ascii + "_" + last.ascii + strconv.Itoa(m.serial))
}

// imageURL mimics img.clerk.com URLs, which embed base64url JSON describing
// either an uploaded image or the generated default avatar.
func (m *Model) imageURL(ownerID string, uploaded bool) string {
	var src string
	if uploaded {
		src = `{"type":"proxy","src":"https://images.clerk.dev/uploaded/` + m.newID("img_") + `"}`
	} else {
		src = `{"type":"default","iid":"` + m.instanceID + `","rid":"` + ownerID + `"}`
	}
	return "https://img.clerk.com/" + base64.RawURLEncoding.EncodeToString([]byte(src))
}

func (m *Model) userPublicMetadata() json.RawMessage {
	if m.chance(0.3) {
		return emptyObject
	}
	v := map[string]any{"plan": pick(m.rng, plans)}
	if m.chance(0.5) {
		v["onboarded"] = m.chance(0.7)
	}
	if m.chance(0.3) {
		v["seats"] = 1 + m.rng.IntN(50)
	}
	if m.chance(0.2) {
		v["preferences"] = map[string]any{"locale": pick(m.rng, locales), "beta": m.chance(0.5)}
	}
	return metadata(v)
}

func (m *Model) userPrivateMetadata() json.RawMessage {
	if m.chance(0.4) {
		return emptyObject
	}
	v := map[string]any{"stripe_customer_id": "cus_" + m.newID("")[6:20]}
	if m.chance(0.3) {
		v["risk_score"] = m.rng.IntN(100)
	}
	return metadata(v)
}

func (m *Model) userUnsafeMetadata() json.RawMessage {
	if m.chance(0.5) {
		return emptyObject
	}
	return metadata(map[string]any{"theme": pick(m.rng, []string{"dark", "light", "system"}), "newsletter": m.chance(0.5)})
}

func (m *Model) externalID() *string {
	// A UUID-looking id from the customer's own database.
	h := fmt.Sprintf("%016x%016x", m.rng.Uint64(), m.rng.Uint64())
	return ptr(h[0:8] + "-" + h[8:12] + "-4" + h[13:16] + "-a" + h[17:20] + "-" + h[20:32])
}

// newUser builds a random user without recording it.
func (m *Model) newUser(now int64) *User {
	first, last := m.randomName()
	u := &User{
		ID:              m.newID("user_"),
		FirstName:       ptr(first.display),
		LastName:        ptr(last.display),
		PublicMetadata:  emptyObject,
		PrivateMetadata: emptyObject,
		UnsafeMetadata:  emptyObject,
		PasswordEnabled: m.chance(0.7),
		CreatedAt:       now,
		UpdatedAt:       now,
	}
	if m.chance(0.05) {
		u.FirstName = nil
	}
	if m.chance(0.1) {
		u.LastName = nil
	}
	switch r := m.rng.IntN(20); {
	case r < 2:
		// Username-only sign-up: Clerk needs some identifier, not an email.
		u.Username = m.newUsername(first, last)
	case r < 4:
		a, b := m.newEmail(first, last, true, now), m.newEmail(first, last, m.chance(0.5), now)
		u.EmailAddresses = []EmailAddress{a, b}
		u.PrimaryEmailAddressID = ptr(a.ID)
	default:
		a := m.newEmail(first, last, true, now)
		u.EmailAddresses = []EmailAddress{a}
		u.PrimaryEmailAddressID = ptr(a.ID)
	}
	if u.Username == nil && m.chance(0.3) {
		u.Username = m.newUsername(first, last)
	}
	if m.chance(0.2) {
		u.ExternalID = m.externalID()
	}
	u.HasImage = m.chance(0.3)
	u.ImageURL = m.imageURL(u.ID, u.HasImage)
	if m.chance(0.5) {
		u.PublicMetadata = m.userPublicMetadata()
	}
	if m.chance(0.3) {
		u.PrivateMetadata = m.userPrivateMetadata()
	}
	if m.chance(0.2) {
		u.UnsafeMetadata = m.userUnsafeMetadata()
	}
	if m.chance(0.6) {
		// Signing up signs the user in.
		u.LastSignInAt = ptr(now)
	}
	return u
}

func (m *Model) addUser(u *User) {
	m.users[u.ID] = u
	m.userSeq = append(m.userSeq, u)
	m.activeUsers++
	m.lists.users.changed(true)
}

func (m *Model) createUser() (*User, []Event) {
	u := m.newUser(m.tick())
	m.addUser(u)
	return u, []Event{m.userEvent(TypeUserCreated, u)}
}

type userChange int

const (
	changeSignIn userChange = iota
	changeNames
	changeUsername
	changeImage
	changeExternalID
	changePublicMetadata
	changePrivateMetadata
	changeUnsafeMetadata
	changeBanned
	changeLocked
	changeAddEmail
	changeRemoveEmail
	changePrimaryEmail
	changeVerifyEmail
	changeRemoveAllEmails
	changeTwoFactor
)

// userChangeWeights skews updates toward what real instances see most:
// sign-ins and profile edits, with email surgery and bans rarer.
var userChangeWeights = [...]int{
	changeSignIn: 20, changeNames: 10, changeUsername: 5, changeImage: 6,
	changeExternalID: 4, changePublicMetadata: 10, changePrivateMetadata: 6,
	changeUnsafeMetadata: 4, changeBanned: 3, changeLocked: 3, changeAddEmail: 7,
	changeRemoveEmail: 5, changePrimaryEmail: 5, changeVerifyEmail: 4,
	changeRemoveAllEmails: 2, changeTwoFactor: 3,
}

func (m *Model) updateUser(u *User) []Event {
	now := m.tick()
	next := u.clone()
	changes := 1
	if m.chance(0.25) {
		changes = 2
	}
	for range changes {
		m.changeUser(&next, userChange(weighted(m.rng, userChangeWeights[:])), now)
	}
	next.UpdatedAt = now
	return m.saveUser(u, next)
}

// saveUser replaces the live user u by its edited copy next and reports the
// change.
func (m *Model) saveUser(u *User, next User) []Event {
	*u = next
	m.lists.users.changed(false)
	return []Event{m.userEvent(TypeUserUpdated, u)}
}

func (m *Model) changeUser(u *User, c userChange, now int64) {
	first, last := m.randomName()
	switch c {
	case changeSignIn:
		u.LastSignInAt = ptr(now)
	case changeNames:
		u.FirstName = ptr(first.display)
		if m.chance(0.15) {
			u.FirstName = nil
		}
		u.LastName = ptr(last.display)
		if m.chance(0.15) {
			u.LastName = nil
		}
	case changeUsername:
		if u.Username != nil && len(u.EmailAddresses) > 0 && m.chance(0.4) {
			u.Username = nil
		} else {
			u.Username = m.newUsername(first, last)
		}
	case changeImage:
		u.HasImage = !u.HasImage || m.chance(0.5)
		u.ImageURL = m.imageURL(u.ID, u.HasImage)
	case changeExternalID:
		if u.ExternalID != nil && m.chance(0.3) {
			u.ExternalID = nil
		} else {
			u.ExternalID = m.externalID()
		}
	case changePublicMetadata:
		u.PublicMetadata = m.userPublicMetadata()
	case changePrivateMetadata:
		u.PrivateMetadata = m.userPrivateMetadata()
	case changeUnsafeMetadata:
		u.UnsafeMetadata = m.userUnsafeMetadata()
	case changeBanned:
		u.Banned = !u.Banned
	case changeLocked:
		u.Locked = !u.Locked
	case changeTwoFactor:
		u.TwoFactorEnabled = !u.TwoFactorEnabled
	case changeAddEmail:
		e := m.newEmail(first, last, m.chance(0.6), now)
		u.EmailAddresses = append(u.EmailAddresses, e)
		if u.PrimaryEmailAddressID == nil && e.Verified {
			u.PrimaryEmailAddressID = ptr(e.ID)
		}
	case changeRemoveEmail:
		if len(u.EmailAddresses) == 0 {
			m.changeUser(u, changeAddEmail, now)
			return
		}
		i := m.rng.IntN(len(u.EmailAddresses))
		m.removeEmail(u, i, first, last)
	case changePrimaryEmail:
		var candidates []int
		for i, e := range u.EmailAddresses {
			if e.Verified && (u.PrimaryEmailAddressID == nil || e.ID != *u.PrimaryEmailAddressID) {
				candidates = append(candidates, i)
			}
		}
		if len(candidates) == 0 {
			// Clerk only promotes verified addresses: add one, then promote.
			e := m.newEmail(first, last, true, now)
			u.EmailAddresses = append(u.EmailAddresses, e)
			candidates = []int{len(u.EmailAddresses) - 1}
		}
		u.PrimaryEmailAddressID = ptr(u.EmailAddresses[pick(m.rng, candidates)].ID)
	case changeVerifyEmail:
		for i := range u.EmailAddresses {
			if e := &u.EmailAddresses[i]; !e.Verified {
				e.Verified, e.UpdatedAt = true, now
				if u.PrimaryEmailAddressID == nil {
					u.PrimaryEmailAddressID = ptr(e.ID)
				}
				return
			}
		}
		u.LastSignInAt = ptr(now)
	case changeRemoveAllEmails:
		for len(u.EmailAddresses) > 0 {
			m.removeEmail(u, 0, first, last)
		}
	}
}

// removeEmail deletes address i. A removed primary is replaced by another
// verified address if there is one and otherwise left null, and a user never
// ends up without any identifier, as Clerk requires.
func (m *Model) removeEmail(u *User, i int, first, last personName) {
	removed := u.EmailAddresses[i]
	u.EmailAddresses = append(u.EmailAddresses[:i:i], u.EmailAddresses[i+1:]...)
	if u.PrimaryEmailAddressID != nil && *u.PrimaryEmailAddressID == removed.ID {
		u.PrimaryEmailAddressID = nil
		for _, e := range u.EmailAddresses {
			if e.Verified {
				u.PrimaryEmailAddressID = ptr(e.ID)
				break
			}
		}
	}
	if len(u.EmailAddresses) == 0 {
		u.EmailAddresses = nil
		if u.Username == nil {
			u.Username = m.newUsername(first, last)
		}
	}
}

// deleteUser cascades to memberships before the user itself is deleted, so
// that in-order application of the history (membership deletes, then
// user.deleted cascading the rest at its own timestamp) reproduces the truth
// exactly.
func (m *Model) deleteUser(u *User) []Event {
	return m.deleteWithMemberships(m.userMems[u.ID], func(now int64) Event {
		u.Deleted, u.DeletedAt = true, now
		m.activeUsers--
		m.lists.users.changed(true)
		return m.event(TypeUserDeleted, now, u.ID, deletedUserJSON{
			Object: "user", ID: u.ID, Deleted: true, ExternalID: u.ExternalID,
		})
	})
}

// Wire format. Field order follows Clerk's payloads so that bodies read
// naturally in logs; the set of fields is what matters to decoders.

type verificationJSON struct {
	Status   string `json:"status"`
	Strategy string `json:"strategy"`
	Attempts *int64 `json:"attempts"`
	ExpireAt *int64 `json:"expire_at"`
}

type emailAddressJSON struct {
	ID                   string            `json:"id"`
	Object               string            `json:"object"`
	EmailAddress         string            `json:"email_address"`
	Reserved             bool              `json:"reserved"`
	Verification         verificationJSON  `json:"verification"`
	LinkedTo             []json.RawMessage `json:"linked_to"`
	MatchesSSOConnection bool              `json:"matches_sso_connection"`
	CreatedAt            int64             `json:"created_at"`
	UpdatedAt            int64             `json:"updated_at"`
}

type userJSON struct {
	ID                            string             `json:"id"`
	Object                        string             `json:"object"`
	Username                      *string            `json:"username"`
	FirstName                     *string            `json:"first_name"`
	LastName                      *string            `json:"last_name"`
	ImageURL                      string             `json:"image_url"`
	HasImage                      bool               `json:"has_image"`
	PrimaryEmailAddressID         *string            `json:"primary_email_address_id"`
	PrimaryPhoneNumberID          *string            `json:"primary_phone_number_id"`
	PrimaryWeb3WalletID           *string            `json:"primary_web3_wallet_id"`
	PasswordEnabled               bool               `json:"password_enabled"`
	TwoFactorEnabled              bool               `json:"two_factor_enabled"`
	TOTPEnabled                   bool               `json:"totp_enabled"`
	BackupCodeEnabled             bool               `json:"backup_code_enabled"`
	EmailAddresses                []emailAddressJSON `json:"email_addresses"`
	PhoneNumbers                  []json.RawMessage  `json:"phone_numbers"`
	Web3Wallets                   []json.RawMessage  `json:"web3_wallets"`
	Passkeys                      []json.RawMessage  `json:"passkeys"`
	ExternalAccounts              []json.RawMessage  `json:"external_accounts"`
	SAMLAccounts                  []json.RawMessage  `json:"saml_accounts"`
	EnterpriseAccounts            []json.RawMessage  `json:"enterprise_accounts"`
	PublicMetadata                json.RawMessage    `json:"public_metadata"`
	PrivateMetadata               json.RawMessage    `json:"private_metadata"`
	UnsafeMetadata                json.RawMessage    `json:"unsafe_metadata"`
	ExternalID                    *string            `json:"external_id"`
	LastSignInAt                  *int64             `json:"last_sign_in_at"`
	Banned                        bool               `json:"banned"`
	Locked                        bool               `json:"locked"`
	LockoutExpiresInSeconds       *int64             `json:"lockout_expires_in_seconds"`
	VerificationAttemptsRemaining int64              `json:"verification_attempts_remaining"`
	DeleteSelfEnabled             bool               `json:"delete_self_enabled"`
	CreateOrganizationEnabled     bool               `json:"create_organization_enabled"`
	CreateOrganizationsLimit      *int64             `json:"create_organizations_limit"`
	LastActiveAt                  *int64             `json:"last_active_at"`
	MFAEnabledAt                  *int64             `json:"mfa_enabled_at"`
	MFADisabledAt                 *int64             `json:"mfa_disabled_at"`
	LegalAcceptedAt               *int64             `json:"legal_accepted_at"`
	ProfileImageURL               string             `json:"profile_image_url"`
	CreatedAt                     int64              `json:"created_at"`
	UpdatedAt                     int64              `json:"updated_at"`
}

type deletedUserJSON struct {
	Object     string  `json:"object"`
	ID         string  `json:"id"`
	Deleted    bool    `json:"deleted"`
	ExternalID *string `json:"external_id"`
}

// Clerk renders empty collections as [] rather than null; decoders that
// range over them should not be the thing a fake lets slide.
var noItems = []json.RawMessage{}

func (u *User) wire() userJSON {
	emails := make([]emailAddressJSON, len(u.EmailAddresses))
	for i, e := range u.EmailAddresses {
		v := verificationJSON{Status: "unverified", Strategy: "email_code"}
		if e.Verified {
			v.Status, v.Attempts = "verified", ptr(int64(1))
			v.ExpireAt = ptr(e.CreatedAt + 10*60*1000)
		}
		emails[i] = emailAddressJSON{
			ID: e.ID, Object: "email_address", EmailAddress: e.EmailAddress,
			Verification: v, LinkedTo: noItems, CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt,
		}
	}
	w := userJSON{
		ID: u.ID, Object: "user", Username: u.Username, FirstName: u.FirstName, LastName: u.LastName,
		ImageURL: u.ImageURL, HasImage: u.HasImage, PrimaryEmailAddressID: u.PrimaryEmailAddressID,
		PasswordEnabled: u.PasswordEnabled, TwoFactorEnabled: u.TwoFactorEnabled, TOTPEnabled: u.TwoFactorEnabled,
		EmailAddresses: emails, PhoneNumbers: noItems, Web3Wallets: noItems, Passkeys: noItems,
		ExternalAccounts: noItems, SAMLAccounts: noItems, EnterpriseAccounts: noItems,
		PublicMetadata: orEmpty(u.PublicMetadata), PrivateMetadata: orEmpty(u.PrivateMetadata),
		UnsafeMetadata: orEmpty(u.UnsafeMetadata), ExternalID: u.ExternalID, LastSignInAt: u.LastSignInAt,
		Banned: u.Banned, Locked: u.Locked, VerificationAttemptsRemaining: 100,
		DeleteSelfEnabled: true, CreateOrganizationEnabled: true,
		ProfileImageURL: u.ImageURL, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt,
	}
	if u.Locked {
		w.LockoutExpiresInSeconds = ptr(int64(3600))
		w.VerificationAttemptsRemaining = 0
	}
	if u.LastSignInAt != nil {
		// Clerk reports last activity at day precision.
		const day = 24 * 60 * 60 * 1000
		w.LastActiveAt = ptr(*u.LastSignInAt / day * day)
	}
	return w
}

func (m *Model) userEvent(typ string, u *User) Event {
	return m.event(typ, u.UpdatedAt, u.ID, u.wire())
}

// UserJSON renders one user as the Backend API does (the same object as in
// user.created/updated data). A deleted user renders its last state; nil
// means the id is unknown.
func (m *Model) UserJSON(id string) []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return wireJSON(m.users, id, (*User).wire)
}
