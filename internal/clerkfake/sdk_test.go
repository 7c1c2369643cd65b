package clerkfake

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"testing"

	"github.com/clerk/clerk-sdk-go/v2"
	"github.com/clerk/clerk-sdk-go/v2/organization"
	"github.com/clerk/clerk-sdk-go/v2/organizationmembership"
	"github.com/clerk/clerk-sdk-go/v2/user"
)

// instanceMembershipParams reaches /v1/organization_memberships, which
// clerk-sdk-go v2.4.2 does not wrap.
type instanceMembershipParams struct {
	clerk.APIParams
	clerk.ListParams
}

func (p *instanceMembershipParams) ToQuery() url.Values { return p.ListParams.ToQuery() }

// The syncd client decodes the fake with Clerk's own SDK types, so the fake
// is checked against them rather than against itself.
func TestAPIWithClerkSDK(t *testing.T) {
	m := New(8)
	m.History(400)
	m.Populate(1200, 20, 900)
	s := newFakeServer(t, m, APIOptions{SecretKey: "sk_test_sdk", RateLimitEvery: 9, RetryAfter: "2"})
	cfg := &clerk.ClientConfig{}
	cfg.URL = clerk.String(s.URL + "/v1")
	cfg.Key = clerk.String("sk_test_sdk")
	cfg.HTTPClient = s.Client()
	ctx := context.Background()
	nUsers, nOrgs, nMems := m.Counts()

	// Retry on 429 as syncd must; the SDK itself does not.
	var rateLimited int
	retry := func(call func() error) {
		t.Helper()
		for {
			err := call()
			var apiErr *clerk.APIErrorResponse
			if errors.As(err, &apiErr) && apiErr.HTTPStatusCode == http.StatusTooManyRequests {
				if apiErr.Errors[0].Code != "too_many_requests" || apiErr.Response.Header.Get("Retry-After") != "2" {
					t.Fatalf("429 as decoded by the SDK: %+v", apiErr)
				}
				rateLimited++
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			return
		}
	}

	users := user.NewClient(cfg)
	seen := map[string]bool{}
	for offset := int64(0); ; offset += 500 {
		var list *clerk.UserList
		retry(func() (err error) {
			list, err = users.List(ctx, &user.ListParams{ListParams: clerk.ListParams{Limit: clerk.Int64(500), Offset: clerk.Int64(offset)}})
			return err
		})
		if list.TotalCount != int64(nUsers) {
			t.Fatalf("TotalCount %d, want %d", list.TotalCount, nUsers)
		}
		for _, u := range list.Users {
			seen[u.ID] = true
			truth, _ := m.User(u.ID)
			var primary *string
			for _, e := range u.EmailAddresses {
				if u.PrimaryEmailAddressID != nil && e.ID == *u.PrimaryEmailAddressID {
					primary = &e.EmailAddress
				}
			}
			if u.UpdatedAt != truth.UpdatedAt || !equalPtr(primary, truth.PrimaryEmailAddress()) ||
				!equalPtr(u.Username, truth.Username) || string(u.PublicMetadata) != string(truth.PublicMetadata) {
				t.Fatalf("SDK user %s does not match the truth", u.ID)
			}
		}
		if len(list.Users) < 500 {
			break
		}
	}
	if len(seen) != nUsers {
		t.Errorf("SDK listed %d of %d users", len(seen), nUsers)
	}

	var orgs *clerk.OrganizationList
	retry(func() (err error) {
		orgs, err = organization.NewClient(cfg).List(ctx, &organization.ListParams{ListParams: clerk.ListParams{Limit: clerk.Int64(500)}})
		return err
	})
	if orgs.TotalCount != int64(nOrgs) || len(orgs.Organizations) != nOrgs || orgs.Organizations[0].ImageURL == nil {
		t.Errorf("SDK organizations: %d/%d of %d", len(orgs.Organizations), orgs.TotalCount, nOrgs)
	}

	var perOrg *clerk.OrganizationMembershipList
	org := orgs.Organizations[0]
	retry(func() (err error) {
		perOrg, err = organizationmembership.NewClient(cfg).List(ctx, &organizationmembership.ListParams{OrganizationID: org.ID})
		return err
	})
	for _, ms := range perOrg.OrganizationMemberships {
		if ms.Organization.ID != org.ID || ms.PublicUserData == nil || ms.PublicUserData.UserID == "" || ms.RoleName == "" {
			t.Errorf("SDK membership %+v", ms)
		}
	}

	backend := clerk.NewBackend(&cfg.BackendConfig)
	total := 0
	for offset := int64(0); ; offset += 500 {
		req := clerk.NewAPIRequest(http.MethodGet, "/organization_memberships")
		req.SetParams(&instanceMembershipParams{ListParams: clerk.ListParams{Limit: clerk.Int64(500), Offset: clerk.Int64(offset)}})
		var list clerk.OrganizationMembershipList
		retry(func() error { return backend.Call(ctx, req, &list) })
		if list.TotalCount != int64(nMems) {
			t.Fatalf("instance memberships TotalCount %d, want %d", list.TotalCount, nMems)
		}
		total += len(list.OrganizationMemberships)
		if len(list.OrganizationMemberships) < 500 {
			break
		}
	}
	if total != nMems {
		t.Errorf("raw call listed %d of %d memberships", total, nMems)
	}

	var err error
	var apiErr *clerk.APIErrorResponse
	for {
		_, err = users.Get(ctx, "user_doesnotexist")
		if errors.As(err, &apiErr) && apiErr.HTTPStatusCode == http.StatusTooManyRequests {
			rateLimited++
			continue
		}
		break
	}
	if !errors.As(err, &apiErr) || apiErr.HTTPStatusCode != http.StatusNotFound || apiErr.Errors[0].Code != "resource_not_found" {
		t.Errorf("Get of a missing user: %v", err)
	}
	if rateLimited == 0 || int64(rateLimited) != s.api.RateLimited() {
		t.Errorf("SDK saw %d 429s, fake served %d", rateLimited, s.api.RateLimited())
	}
}

func equalPtr[T comparable](a, b *T) bool {
	return (a == nil) == (b == nil) && (a == nil || *a == *b)
}
