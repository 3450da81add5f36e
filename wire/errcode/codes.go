package errcode

// The Kafka error codes, in code order. Each is the only value ForCode returns for its code.
// Codes, names and retriability follow Kafka's protocol guide (the table of error codes),
// cross-checked against franz-go's kerr in the tests.
var (
	UnknownServerError                     = &Error{Code: -1, Name: "UNKNOWN_SERVER_ERROR", Retriable: false}
	OffsetOutOfRange                       = &Error{Code: 1, Name: "OFFSET_OUT_OF_RANGE", Retriable: false}
	CorruptMessage                         = &Error{Code: 2, Name: "CORRUPT_MESSAGE", Retriable: true}
	UnknownTopicOrPartition                = &Error{Code: 3, Name: "UNKNOWN_TOPIC_OR_PARTITION", Retriable: true}
	InvalidFetchSize                       = &Error{Code: 4, Name: "INVALID_FETCH_SIZE", Retriable: false}
	LeaderNotAvailable                     = &Error{Code: 5, Name: "LEADER_NOT_AVAILABLE", Retriable: true}
	NotLeaderOrFollower                    = &Error{Code: 6, Name: "NOT_LEADER_OR_FOLLOWER", Retriable: true}
	RequestTimedOut                        = &Error{Code: 7, Name: "REQUEST_TIMED_OUT", Retriable: true}
	BrokerNotAvailable                     = &Error{Code: 8, Name: "BROKER_NOT_AVAILABLE", Retriable: true}
	ReplicaNotAvailable                    = &Error{Code: 9, Name: "REPLICA_NOT_AVAILABLE", Retriable: true}
	MessageTooLarge                        = &Error{Code: 10, Name: "MESSAGE_TOO_LARGE", Retriable: false}
	StaleControllerEpoch                   = &Error{Code: 11, Name: "STALE_CONTROLLER_EPOCH", Retriable: false}
	OffsetMetadataTooLarge                 = &Error{Code: 12, Name: "OFFSET_METADATA_TOO_LARGE", Retriable: false}
	NetworkException                       = &Error{Code: 13, Name: "NETWORK_EXCEPTION", Retriable: true}
	CoordinatorLoadInProgress              = &Error{Code: 14, Name: "COORDINATOR_LOAD_IN_PROGRESS", Retriable: true}
	CoordinatorNotAvailable                = &Error{Code: 15, Name: "COORDINATOR_NOT_AVAILABLE", Retriable: true}
	NotCoordinator                         = &Error{Code: 16, Name: "NOT_COORDINATOR", Retriable: true}
	InvalidTopicException                  = &Error{Code: 17, Name: "INVALID_TOPIC_EXCEPTION", Retriable: false}
	RecordListTooLarge                     = &Error{Code: 18, Name: "RECORD_LIST_TOO_LARGE", Retriable: false}
	NotEnoughReplicas                      = &Error{Code: 19, Name: "NOT_ENOUGH_REPLICAS", Retriable: true}
	NotEnoughReplicasAfterAppend           = &Error{Code: 20, Name: "NOT_ENOUGH_REPLICAS_AFTER_APPEND", Retriable: true}
	InvalidRequiredAcks                    = &Error{Code: 21, Name: "INVALID_REQUIRED_ACKS", Retriable: false}
	IllegalGeneration                      = &Error{Code: 22, Name: "ILLEGAL_GENERATION", Retriable: false}
	InconsistentGroupProtocol              = &Error{Code: 23, Name: "INCONSISTENT_GROUP_PROTOCOL", Retriable: false}
	InvalidGroupID                         = &Error{Code: 24, Name: "INVALID_GROUP_ID", Retriable: false}
	UnknownMemberID                        = &Error{Code: 25, Name: "UNKNOWN_MEMBER_ID", Retriable: false}
	InvalidSessionTimeout                  = &Error{Code: 26, Name: "INVALID_SESSION_TIMEOUT", Retriable: false}
	RebalanceInProgress                    = &Error{Code: 27, Name: "REBALANCE_IN_PROGRESS", Retriable: false}
	InvalidCommitOffsetSize                = &Error{Code: 28, Name: "INVALID_COMMIT_OFFSET_SIZE", Retriable: false}
	TopicAuthorizationFailed               = &Error{Code: 29, Name: "TOPIC_AUTHORIZATION_FAILED", Retriable: false}
	GroupAuthorizationFailed               = &Error{Code: 30, Name: "GROUP_AUTHORIZATION_FAILED", Retriable: false}
	ClusterAuthorizationFailed             = &Error{Code: 31, Name: "CLUSTER_AUTHORIZATION_FAILED", Retriable: false}
	InvalidTimestamp                       = &Error{Code: 32, Name: "INVALID_TIMESTAMP", Retriable: false}
	UnsupportedSASLMechanism               = &Error{Code: 33, Name: "UNSUPPORTED_SASL_MECHANISM", Retriable: false}
	IllegalSASLState                       = &Error{Code: 34, Name: "ILLEGAL_SASL_STATE", Retriable: false}
	UnsupportedVersion                     = &Error{Code: 35, Name: "UNSUPPORTED_VERSION", Retriable: false}
	TopicAlreadyExists                     = &Error{Code: 36, Name: "TOPIC_ALREADY_EXISTS", Retriable: false}
	InvalidPartitions                      = &Error{Code: 37, Name: "INVALID_PARTITIONS", Retriable: false}
	InvalidReplicationFactor               = &Error{Code: 38, Name: "INVALID_REPLICATION_FACTOR", Retriable: false}
	InvalidReplicaAssignment               = &Error{Code: 39, Name: "INVALID_REPLICA_ASSIGNMENT", Retriable: false}
	InvalidConfig                          = &Error{Code: 40, Name: "INVALID_CONFIG", Retriable: false}
	NotController                          = &Error{Code: 41, Name: "NOT_CONTROLLER", Retriable: true}
	InvalidRequest                         = &Error{Code: 42, Name: "INVALID_REQUEST", Retriable: false}
	UnsupportedForMessageFormat            = &Error{Code: 43, Name: "UNSUPPORTED_FOR_MESSAGE_FORMAT", Retriable: false}
	PolicyViolation                        = &Error{Code: 44, Name: "POLICY_VIOLATION", Retriable: false}
	OutOfOrderSequenceNumber               = &Error{Code: 45, Name: "OUT_OF_ORDER_SEQUENCE_NUMBER", Retriable: false}
	DuplicateSequenceNumber                = &Error{Code: 46, Name: "DUPLICATE_SEQUENCE_NUMBER", Retriable: false}
	InvalidProducerEpoch                   = &Error{Code: 47, Name: "INVALID_PRODUCER_EPOCH", Retriable: false}
	InvalidTxnState                        = &Error{Code: 48, Name: "INVALID_TXN_STATE", Retriable: false}
	InvalidProducerIDMapping               = &Error{Code: 49, Name: "INVALID_PRODUCER_ID_MAPPING", Retriable: false}
	InvalidTransactionTimeout              = &Error{Code: 50, Name: "INVALID_TRANSACTION_TIMEOUT", Retriable: false}
	ConcurrentTransactions                 = &Error{Code: 51, Name: "CONCURRENT_TRANSACTIONS", Retriable: false}
	TransactionCoordinatorFenced           = &Error{Code: 52, Name: "TRANSACTION_COORDINATOR_FENCED", Retriable: false}
	TransactionalIDAuthorizationFailed     = &Error{Code: 53, Name: "TRANSACTIONAL_ID_AUTHORIZATION_FAILED", Retriable: false}
	SecurityDisabled                       = &Error{Code: 54, Name: "SECURITY_DISABLED", Retriable: false}
	OperationNotAttempted                  = &Error{Code: 55, Name: "OPERATION_NOT_ATTEMPTED", Retriable: false}
	KafkaStorageError                      = &Error{Code: 56, Name: "KAFKA_STORAGE_ERROR", Retriable: true}
	LogDirNotFound                         = &Error{Code: 57, Name: "LOG_DIR_NOT_FOUND", Retriable: false}
	SASLAuthenticationFailed               = &Error{Code: 58, Name: "SASL_AUTHENTICATION_FAILED", Retriable: false}
	UnknownProducerID                      = &Error{Code: 59, Name: "UNKNOWN_PRODUCER_ID", Retriable: false}
	ReassignmentInProgress                 = &Error{Code: 60, Name: "REASSIGNMENT_IN_PROGRESS", Retriable: false}
	DelegationTokenAuthDisabled            = &Error{Code: 61, Name: "DELEGATION_TOKEN_AUTH_DISABLED", Retriable: false}
	DelegationTokenNotFound                = &Error{Code: 62, Name: "DELEGATION_TOKEN_NOT_FOUND", Retriable: false}
	DelegationTokenOwnerMismatch           = &Error{Code: 63, Name: "DELEGATION_TOKEN_OWNER_MISMATCH", Retriable: false}
	DelegationTokenRequestNotAllowed       = &Error{Code: 64, Name: "DELEGATION_TOKEN_REQUEST_NOT_ALLOWED", Retriable: false}
	DelegationTokenAuthorizationFailed     = &Error{Code: 65, Name: "DELEGATION_TOKEN_AUTHORIZATION_FAILED", Retriable: false}
	DelegationTokenExpired                 = &Error{Code: 66, Name: "DELEGATION_TOKEN_EXPIRED", Retriable: false}
	InvalidPrincipalType                   = &Error{Code: 67, Name: "INVALID_PRINCIPAL_TYPE", Retriable: false}
	NonEmptyGroup                          = &Error{Code: 68, Name: "NON_EMPTY_GROUP", Retriable: false}
	GroupIDNotFound                        = &Error{Code: 69, Name: "GROUP_ID_NOT_FOUND", Retriable: false}
	FetchSessionIDNotFound                 = &Error{Code: 70, Name: "FETCH_SESSION_ID_NOT_FOUND", Retriable: true}
	InvalidFetchSessionEpoch               = &Error{Code: 71, Name: "INVALID_FETCH_SESSION_EPOCH", Retriable: true}
	ListenerNotFound                       = &Error{Code: 72, Name: "LISTENER_NOT_FOUND", Retriable: true}
	TopicDeletionDisabled                  = &Error{Code: 73, Name: "TOPIC_DELETION_DISABLED", Retriable: false}
	FencedLeaderEpoch                      = &Error{Code: 74, Name: "FENCED_LEADER_EPOCH", Retriable: true}
	UnknownLeaderEpoch                     = &Error{Code: 75, Name: "UNKNOWN_LEADER_EPOCH", Retriable: true}
	UnsupportedCompressionType             = &Error{Code: 76, Name: "UNSUPPORTED_COMPRESSION_TYPE", Retriable: false}
	StaleBrokerEpoch                       = &Error{Code: 77, Name: "STALE_BROKER_EPOCH", Retriable: false}
	OffsetNotAvailable                     = &Error{Code: 78, Name: "OFFSET_NOT_AVAILABLE", Retriable: true}
	MemberIDRequired                       = &Error{Code: 79, Name: "MEMBER_ID_REQUIRED", Retriable: false}
	PreferredLeaderNotAvailable            = &Error{Code: 80, Name: "PREFERRED_LEADER_NOT_AVAILABLE", Retriable: true}
	GroupMaxSizeReached                    = &Error{Code: 81, Name: "GROUP_MAX_SIZE_REACHED", Retriable: false}
	FencedInstanceID                       = &Error{Code: 82, Name: "FENCED_INSTANCE_ID", Retriable: false}
	EligibleLeadersNotAvailable            = &Error{Code: 83, Name: "ELIGIBLE_LEADERS_NOT_AVAILABLE", Retriable: true}
	ElectionNotNeeded                      = &Error{Code: 84, Name: "ELECTION_NOT_NEEDED", Retriable: true}
	NoReassignmentInProgress               = &Error{Code: 85, Name: "NO_REASSIGNMENT_IN_PROGRESS", Retriable: false}
	GroupSubscribedToTopic                 = &Error{Code: 86, Name: "GROUP_SUBSCRIBED_TO_TOPIC", Retriable: false}
	InvalidRecord                          = &Error{Code: 87, Name: "INVALID_RECORD", Retriable: false}
	UnstableOffsetCommit                   = &Error{Code: 88, Name: "UNSTABLE_OFFSET_COMMIT", Retriable: true}
	ThrottlingQuotaExceeded                = &Error{Code: 89, Name: "THROTTLING_QUOTA_EXCEEDED", Retriable: true}
	ProducerFenced                         = &Error{Code: 90, Name: "PRODUCER_FENCED", Retriable: false}
	ResourceNotFound                       = &Error{Code: 91, Name: "RESOURCE_NOT_FOUND", Retriable: false}
	DuplicateResource                      = &Error{Code: 92, Name: "DUPLICATE_RESOURCE", Retriable: false}
	UnacceptableCredential                 = &Error{Code: 93, Name: "UNACCEPTABLE_CREDENTIAL", Retriable: false}
	InconsistentVoterSet                   = &Error{Code: 94, Name: "INCONSISTENT_VOTER_SET", Retriable: false}
	InvalidUpdateVersion                   = &Error{Code: 95, Name: "INVALID_UPDATE_VERSION", Retriable: false}
	FeatureUpdateFailed                    = &Error{Code: 96, Name: "FEATURE_UPDATE_FAILED", Retriable: false}
	PrincipalDeserializationFailure        = &Error{Code: 97, Name: "PRINCIPAL_DESERIALIZATION_FAILURE", Retriable: false}
	SnapshotNotFound                       = &Error{Code: 98, Name: "SNAPSHOT_NOT_FOUND", Retriable: false}
	PositionOutOfRange                     = &Error{Code: 99, Name: "POSITION_OUT_OF_RANGE", Retriable: false}
	UnknownTopicID                         = &Error{Code: 100, Name: "UNKNOWN_TOPIC_ID", Retriable: true}
	DuplicateBrokerRegistration            = &Error{Code: 101, Name: "DUPLICATE_BROKER_REGISTRATION", Retriable: false}
	BrokerIDNotRegistered                  = &Error{Code: 102, Name: "BROKER_ID_NOT_REGISTERED", Retriable: false}
	InconsistentTopicID                    = &Error{Code: 103, Name: "INCONSISTENT_TOPIC_ID", Retriable: true}
	InconsistentClusterID                  = &Error{Code: 104, Name: "INCONSISTENT_CLUSTER_ID", Retriable: false}
	TransactionalIDNotFound                = &Error{Code: 105, Name: "TRANSACTIONAL_ID_NOT_FOUND", Retriable: false}
	FetchSessionTopicIDError               = &Error{Code: 106, Name: "FETCH_SESSION_TOPIC_ID_ERROR", Retriable: true}
	IneligibleReplica                      = &Error{Code: 107, Name: "INELIGIBLE_REPLICA", Retriable: false}
	NewLeaderElected                       = &Error{Code: 108, Name: "NEW_LEADER_ELECTED", Retriable: false}
	OffsetMovedToTieredStorage             = &Error{Code: 109, Name: "OFFSET_MOVED_TO_TIERED_STORAGE", Retriable: false}
	FencedMemberEpoch                      = &Error{Code: 110, Name: "FENCED_MEMBER_EPOCH", Retriable: false}
	UnreleasedInstanceID                   = &Error{Code: 111, Name: "UNRELEASED_INSTANCE_ID", Retriable: false}
	UnsupportedAssignor                    = &Error{Code: 112, Name: "UNSUPPORTED_ASSIGNOR", Retriable: false}
	StaleMemberEpoch                       = &Error{Code: 113, Name: "STALE_MEMBER_EPOCH", Retriable: false}
	MismatchedEndpointType                 = &Error{Code: 114, Name: "MISMATCHED_ENDPOINT_TYPE", Retriable: false}
	UnsupportedEndpointType                = &Error{Code: 115, Name: "UNSUPPORTED_ENDPOINT_TYPE", Retriable: false}
	UnknownControllerID                    = &Error{Code: 116, Name: "UNKNOWN_CONTROLLER_ID", Retriable: false}
	UnknownSubscriptionID                  = &Error{Code: 117, Name: "UNKNOWN_SUBSCRIPTION_ID", Retriable: false}
	TelemetryTooLarge                      = &Error{Code: 118, Name: "TELEMETRY_TOO_LARGE", Retriable: false}
	InvalidRegistration                    = &Error{Code: 119, Name: "INVALID_REGISTRATION", Retriable: false}
	TransactionAbortable                   = &Error{Code: 120, Name: "TRANSACTION_ABORTABLE", Retriable: false}
	InvalidRecordState                     = &Error{Code: 121, Name: "INVALID_RECORD_STATE", Retriable: false}
	ShareSessionNotFound                   = &Error{Code: 122, Name: "SHARE_SESSION_NOT_FOUND", Retriable: false}
	InvalidShareSessionEpoch               = &Error{Code: 123, Name: "INVALID_SHARE_SESSION_EPOCH", Retriable: false}
	FencedStateEpoch                       = &Error{Code: 124, Name: "FENCED_STATE_EPOCH", Retriable: false}
	InvalidVoterKey                        = &Error{Code: 125, Name: "INVALID_VOTER_KEY", Retriable: false}
	DuplicateVoter                         = &Error{Code: 126, Name: "DUPLICATE_VOTER", Retriable: false}
	VoterNotFound                          = &Error{Code: 127, Name: "VOTER_NOT_FOUND", Retriable: false}
	InvalidRegularExpression               = &Error{Code: 128, Name: "INVALID_REGULAR_EXPRESSION", Retriable: false}
	RebootstrapRequired                    = &Error{Code: 129, Name: "REBOOTSTRAP_REQUIRED", Retriable: false}
	StreamsInvalidTopology                 = &Error{Code: 130, Name: "STREAMS_INVALID_TOPOLOGY", Retriable: false}
	StreamsInvalidTopologyEpoch            = &Error{Code: 131, Name: "STREAMS_INVALID_TOPOLOGY_EPOCH", Retriable: false}
	StreamsTopologyFenced                  = &Error{Code: 132, Name: "STREAMS_TOPOLOGY_FENCED", Retriable: false}
	ShareSessionLimitReached               = &Error{Code: 133, Name: "SHARE_SESSION_LIMIT_REACHED", Retriable: true}
	GroupDeletionFailed                    = &Error{Code: 134, Name: "GROUP_DELETION_FAILED", Retriable: false}
	StreamsTopologyDescriptionUpdateFailed = &Error{Code: 135, Name: "STREAMS_TOPOLOGY_DESCRIPTION_UPDATE_FAILED", Retriable: false}
	ControllerIDNotRegistered              = &Error{Code: 136, Name: "CONTROLLER_ID_NOT_REGISTERED", Retriable: false}
)

// known lists every code's Error, for ForCode.
var known = [...]*Error{
	UnknownServerError,
	OffsetOutOfRange,
	CorruptMessage,
	UnknownTopicOrPartition,
	InvalidFetchSize,
	LeaderNotAvailable,
	NotLeaderOrFollower,
	RequestTimedOut,
	BrokerNotAvailable,
	ReplicaNotAvailable,
	MessageTooLarge,
	StaleControllerEpoch,
	OffsetMetadataTooLarge,
	NetworkException,
	CoordinatorLoadInProgress,
	CoordinatorNotAvailable,
	NotCoordinator,
	InvalidTopicException,
	RecordListTooLarge,
	NotEnoughReplicas,
	NotEnoughReplicasAfterAppend,
	InvalidRequiredAcks,
	IllegalGeneration,
	InconsistentGroupProtocol,
	InvalidGroupID,
	UnknownMemberID,
	InvalidSessionTimeout,
	RebalanceInProgress,
	InvalidCommitOffsetSize,
	TopicAuthorizationFailed,
	GroupAuthorizationFailed,
	ClusterAuthorizationFailed,
	InvalidTimestamp,
	UnsupportedSASLMechanism,
	IllegalSASLState,
	UnsupportedVersion,
	TopicAlreadyExists,
	InvalidPartitions,
	InvalidReplicationFactor,
	InvalidReplicaAssignment,
	InvalidConfig,
	NotController,
	InvalidRequest,
	UnsupportedForMessageFormat,
	PolicyViolation,
	OutOfOrderSequenceNumber,
	DuplicateSequenceNumber,
	InvalidProducerEpoch,
	InvalidTxnState,
	InvalidProducerIDMapping,
	InvalidTransactionTimeout,
	ConcurrentTransactions,
	TransactionCoordinatorFenced,
	TransactionalIDAuthorizationFailed,
	SecurityDisabled,
	OperationNotAttempted,
	KafkaStorageError,
	LogDirNotFound,
	SASLAuthenticationFailed,
	UnknownProducerID,
	ReassignmentInProgress,
	DelegationTokenAuthDisabled,
	DelegationTokenNotFound,
	DelegationTokenOwnerMismatch,
	DelegationTokenRequestNotAllowed,
	DelegationTokenAuthorizationFailed,
	DelegationTokenExpired,
	InvalidPrincipalType,
	NonEmptyGroup,
	GroupIDNotFound,
	FetchSessionIDNotFound,
	InvalidFetchSessionEpoch,
	ListenerNotFound,
	TopicDeletionDisabled,
	FencedLeaderEpoch,
	UnknownLeaderEpoch,
	UnsupportedCompressionType,
	StaleBrokerEpoch,
	OffsetNotAvailable,
	MemberIDRequired,
	PreferredLeaderNotAvailable,
	GroupMaxSizeReached,
	FencedInstanceID,
	EligibleLeadersNotAvailable,
	ElectionNotNeeded,
	NoReassignmentInProgress,
	GroupSubscribedToTopic,
	InvalidRecord,
	UnstableOffsetCommit,
	ThrottlingQuotaExceeded,
	ProducerFenced,
	ResourceNotFound,
	DuplicateResource,
	UnacceptableCredential,
	InconsistentVoterSet,
	InvalidUpdateVersion,
	FeatureUpdateFailed,
	PrincipalDeserializationFailure,
	SnapshotNotFound,
	PositionOutOfRange,
	UnknownTopicID,
	DuplicateBrokerRegistration,
	BrokerIDNotRegistered,
	InconsistentTopicID,
	InconsistentClusterID,
	TransactionalIDNotFound,
	FetchSessionTopicIDError,
	IneligibleReplica,
	NewLeaderElected,
	OffsetMovedToTieredStorage,
	FencedMemberEpoch,
	UnreleasedInstanceID,
	UnsupportedAssignor,
	StaleMemberEpoch,
	MismatchedEndpointType,
	UnsupportedEndpointType,
	UnknownControllerID,
	UnknownSubscriptionID,
	TelemetryTooLarge,
	InvalidRegistration,
	TransactionAbortable,
	InvalidRecordState,
	ShareSessionNotFound,
	InvalidShareSessionEpoch,
	FencedStateEpoch,
	InvalidVoterKey,
	DuplicateVoter,
	VoterNotFound,
	InvalidRegularExpression,
	RebootstrapRequired,
	StreamsInvalidTopology,
	StreamsInvalidTopologyEpoch,
	StreamsTopologyFenced,
	ShareSessionLimitReached,
	GroupDeletionFailed,
	StreamsTopologyDescriptionUpdateFailed,
	ControllerIDNotRegistered,
}
