package store

// The upsert statements, for the test that checks their plans.
const (
	UpsertUsersSQL         = upsertUsersSQL
	UpsertOrganizationsSQL = upsertOrganizationsSQL
	UpsertMembershipsSQL   = upsertMembershipsSQL
)
