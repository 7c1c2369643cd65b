package clerkfake_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	svix "github.com/svix/svix-webhooks/go"

	"github.com/syncd/syncd/internal/clerkfake"
)

// A seed reproduces the same history, so a failing test can be replayed
// exactly.
func ExampleModel() {
	m := clerkfake.New(42)
	for _, ev := range m.History(12) {
		fmt.Println(ev.Type)
	}
	users, orgs, memberships := m.Counts()
	fmt.Println(users, "users,", orgs, "organizations,", memberships, "memberships")
	fmt.Println(*m.Users()[0].PrimaryEmailAddress())
	// Output:
	// user.created
	// user.created
	// user.created
	// organization.created
	// organizationMembership.created
	// organization.created
	// organizationMembership.created
	// organization.updated
	// organizationMembership.deleted
	// user.created
	// organizationMembership.created
	// user.created
	// 5 users, 2 organizations, 2 memberships
	// yuki.turing.1@example.net
}

// Point a Backend API client at server.URL+"/v1".
func ExampleNewAPI() {
	m := clerkfake.New(1)
	m.Populate(1234, 10, 100)
	api := clerkfake.NewAPI(m, clerkfake.APIOptions{SecretKey: "sk_test_example", RateLimitEvery: 2})
	server := httptest.NewServer(api)
	defer server.Close()

	for range 2 {
		req, _ := http.NewRequest(http.MethodGet, server.URL+"/v1/users/count", nil)
		req.Header.Set("Authorization", "Bearer sk_test_example")
		res, err := server.Client().Do(req)
		if err != nil {
			panic(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		fmt.Println(res.StatusCode, res.Header.Get("Retry-After"), len(body) > 0)
		if res.StatusCode == http.StatusOK {
			fmt.Println(string(body))
		}
	}
	fmt.Println(api.Requests(), "requests,", api.RateLimited(), "rate limited")
	// Output:
	// 200  true
	// {"object":"total_count","total_count":1234}
	// 429 1 true
	// 2 requests, 1 rate limited
}

// Deliver an event the way Svix does: the raw body plus svix-* headers.
func ExampleSignedHeaders() {
	secret := clerkfake.NewSecret(nil)
	ev := clerkfake.New(1).History(1)[0]
	h, err := clerkfake.SignedHeaders(secret, ev, time.Now())
	if err != nil {
		panic(err)
	}
	wh, _ := svix.NewWebhook(secret)
	fmt.Println(ev.Type, wh.Verify(ev.Body, h) == nil)
	// Output: user.created true
}
