package clerkapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/syncd/syncd/internal/clerkapi"
)

// Reconciliation streams every organization page by page and keeps each
// object's raw JSON. The server here stands in for api.clerk.com.
func Example() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/organizations":
			fmt.Fprint(w, `{"data":[{"object":"organization","id":"org_1","name":"Acme"},{"object":"organization","id":"org_2","name":"Globex"}],"total_count":2}`)
		default:
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"errors":[{"code":"resource_not_found","message":"not found"}]}`)
		}
	}))
	defer srv.Close()

	client, err := clerkapi.New(clerkapi.Config{
		BaseURL:   srv.URL + "/v1",
		SecretKey: "sk_test_example",
		RPS:       20, // the service's default pace (SYNCD_CLERK_RPS)
		OnResponse: func(code int) {
			fmt.Println("clerk answered", code)
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()

	err = client.ListOrganizations(ctx, func(page []json.RawMessage) error {
		for _, raw := range page {
			fmt.Println(string(raw))
		}
		return nil
	})
	if err != nil {
		fmt.Println(err)
	}

	// Before tombstoning a row the listing missed, ask for the object itself.
	_, err = client.GetOrganization(ctx, "org_3")
	fmt.Println("org_3 is gone:", errors.Is(err, clerkapi.ErrNotFound))
	fmt.Println(err)
	fmt.Printf("%+v\n", client.Stats())
	// Output:
	// clerk answered 200
	// {"object":"organization","id":"org_1","name":"Acme"}
	// {"object":"organization","id":"org_2","name":"Globex"}
	// clerk answered 404
	// org_3 is gone: true
	// clerk backend api: GET /organizations/org_3: HTTP 404 (resource_not_found: not found)
	// {Requests:2 RateLimited:0 Retries:0}
}
