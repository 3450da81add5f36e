package api

import "strconv"

// Key identifies a Kafka API: the first field of every request header. The constants name
// every key Kafka defines (as of Kafka 4.1); only some are implemented by this package (see
// [SupportedVersions]).
type Key int16

// The Kafka API keys, in key order.
const (
	Produce                      Key = 0
	Fetch                        Key = 1
	ListOffsets                  Key = 2
	Metadata                     Key = 3
	LeaderAndIsr                 Key = 4
	StopReplica                  Key = 5
	UpdateMetadata               Key = 6
	ControlledShutdown           Key = 7
	OffsetCommit                 Key = 8
	OffsetFetch                  Key = 9
	FindCoordinator              Key = 10
	JoinGroup                    Key = 11
	Heartbeat                    Key = 12
	LeaveGroup                   Key = 13
	SyncGroup                    Key = 14
	DescribeGroups               Key = 15
	ListGroups                   Key = 16
	SaslHandshake                Key = 17
	APIVersions                  Key = 18
	CreateTopics                 Key = 19
	DeleteTopics                 Key = 20
	DeleteRecords                Key = 21
	InitProducerID               Key = 22
	OffsetForLeaderEpoch         Key = 23
	AddPartitionsToTxn           Key = 24
	AddOffsetsToTxn              Key = 25
	EndTxn                       Key = 26
	WriteTxnMarkers              Key = 27
	TxnOffsetCommit              Key = 28
	DescribeAcls                 Key = 29
	CreateAcls                   Key = 30
	DeleteAcls                   Key = 31
	DescribeConfigs              Key = 32
	AlterConfigs                 Key = 33
	AlterReplicaLogDirs          Key = 34
	DescribeLogDirs              Key = 35
	SaslAuthenticate             Key = 36
	CreatePartitions             Key = 37
	CreateDelegationToken        Key = 38
	RenewDelegationToken         Key = 39
	ExpireDelegationToken        Key = 40
	DescribeDelegationToken      Key = 41
	DeleteGroups                 Key = 42
	ElectLeaders                 Key = 43
	IncrementalAlterConfigs      Key = 44
	AlterPartitionReassignments  Key = 45
	ListPartitionReassignments   Key = 46
	OffsetDelete                 Key = 47
	DescribeClientQuotas         Key = 48
	AlterClientQuotas            Key = 49
	DescribeUserScramCredentials Key = 50
	AlterUserScramCredentials    Key = 51
	Vote                         Key = 52
	BeginQuorumEpoch             Key = 53
	EndQuorumEpoch               Key = 54
	DescribeQuorum               Key = 55
	AlterPartition               Key = 56
	UpdateFeatures               Key = 57
	Envelope                     Key = 58
	FetchSnapshot                Key = 59
	DescribeCluster              Key = 60
	DescribeProducers            Key = 61
	BrokerRegistration           Key = 62
	BrokerHeartbeat              Key = 63
	UnregisterBroker             Key = 64
	DescribeTransactions         Key = 65
	ListTransactions             Key = 66
	AllocateProducerIDs          Key = 67
	ConsumerGroupHeartbeat       Key = 68
	ConsumerGroupDescribe        Key = 69
	ControllerRegistration       Key = 70
	GetTelemetrySubscriptions    Key = 71
	PushTelemetry                Key = 72
	AssignReplicasToDirs         Key = 73
	ListConfigResources          Key = 74
	DescribeTopicPartitions      Key = 75
	ShareGroupHeartbeat          Key = 76
	ShareGroupDescribe           Key = 77
	ShareFetch                   Key = 78
	ShareAcknowledge             Key = 79
	AddRaftVoter                 Key = 80
	RemoveRaftVoter              Key = 81
	UpdateRaftVoter              Key = 82
	InitializeShareGroupState    Key = 83
	ReadShareGroupState          Key = 84
	WriteShareGroupState         Key = 85
	DeleteShareGroupState        Key = 86
	ReadShareGroupStateSummary   Key = 87
	StreamsGroupHeartbeat        Key = 88
	StreamsGroupDescribe         Key = 89
	DescribeShareGroupOffsets    Key = 90
	AlterShareGroupOffsets       Key = 91
	DeleteShareGroupOffsets      Key = 92
)

// keyNames holds the name Kafka gives each key, indexed by key.
var keyNames = [...]string{
	Produce:                      "Produce",
	Fetch:                        "Fetch",
	ListOffsets:                  "ListOffsets",
	Metadata:                     "Metadata",
	LeaderAndIsr:                 "LeaderAndIsr",
	StopReplica:                  "StopReplica",
	UpdateMetadata:               "UpdateMetadata",
	ControlledShutdown:           "ControlledShutdown",
	OffsetCommit:                 "OffsetCommit",
	OffsetFetch:                  "OffsetFetch",
	FindCoordinator:              "FindCoordinator",
	JoinGroup:                    "JoinGroup",
	Heartbeat:                    "Heartbeat",
	LeaveGroup:                   "LeaveGroup",
	SyncGroup:                    "SyncGroup",
	DescribeGroups:               "DescribeGroups",
	ListGroups:                   "ListGroups",
	SaslHandshake:                "SaslHandshake",
	APIVersions:                  "ApiVersions",
	CreateTopics:                 "CreateTopics",
	DeleteTopics:                 "DeleteTopics",
	DeleteRecords:                "DeleteRecords",
	InitProducerID:               "InitProducerId",
	OffsetForLeaderEpoch:         "OffsetForLeaderEpoch",
	AddPartitionsToTxn:           "AddPartitionsToTxn",
	AddOffsetsToTxn:              "AddOffsetsToTxn",
	EndTxn:                       "EndTxn",
	WriteTxnMarkers:              "WriteTxnMarkers",
	TxnOffsetCommit:              "TxnOffsetCommit",
	DescribeAcls:                 "DescribeAcls",
	CreateAcls:                   "CreateAcls",
	DeleteAcls:                   "DeleteAcls",
	DescribeConfigs:              "DescribeConfigs",
	AlterConfigs:                 "AlterConfigs",
	AlterReplicaLogDirs:          "AlterReplicaLogDirs",
	DescribeLogDirs:              "DescribeLogDirs",
	SaslAuthenticate:             "SaslAuthenticate",
	CreatePartitions:             "CreatePartitions",
	CreateDelegationToken:        "CreateDelegationToken",
	RenewDelegationToken:         "RenewDelegationToken",
	ExpireDelegationToken:        "ExpireDelegationToken",
	DescribeDelegationToken:      "DescribeDelegationToken",
	DeleteGroups:                 "DeleteGroups",
	ElectLeaders:                 "ElectLeaders",
	IncrementalAlterConfigs:      "IncrementalAlterConfigs",
	AlterPartitionReassignments:  "AlterPartitionReassignments",
	ListPartitionReassignments:   "ListPartitionReassignments",
	OffsetDelete:                 "OffsetDelete",
	DescribeClientQuotas:         "DescribeClientQuotas",
	AlterClientQuotas:            "AlterClientQuotas",
	DescribeUserScramCredentials: "DescribeUserScramCredentials",
	AlterUserScramCredentials:    "AlterUserScramCredentials",
	Vote:                         "Vote",
	BeginQuorumEpoch:             "BeginQuorumEpoch",
	EndQuorumEpoch:               "EndQuorumEpoch",
	DescribeQuorum:               "DescribeQuorum",
	AlterPartition:               "AlterPartition",
	UpdateFeatures:               "UpdateFeatures",
	Envelope:                     "Envelope",
	FetchSnapshot:                "FetchSnapshot",
	DescribeCluster:              "DescribeCluster",
	DescribeProducers:            "DescribeProducers",
	BrokerRegistration:           "BrokerRegistration",
	BrokerHeartbeat:              "BrokerHeartbeat",
	UnregisterBroker:             "UnregisterBroker",
	DescribeTransactions:         "DescribeTransactions",
	ListTransactions:             "ListTransactions",
	AllocateProducerIDs:          "AllocateProducerIds",
	ConsumerGroupHeartbeat:       "ConsumerGroupHeartbeat",
	ConsumerGroupDescribe:        "ConsumerGroupDescribe",
	ControllerRegistration:       "ControllerRegistration",
	GetTelemetrySubscriptions:    "GetTelemetrySubscriptions",
	PushTelemetry:                "PushTelemetry",
	AssignReplicasToDirs:         "AssignReplicasToDirs",
	ListConfigResources:          "ListConfigResources",
	DescribeTopicPartitions:      "DescribeTopicPartitions",
	ShareGroupHeartbeat:          "ShareGroupHeartbeat",
	ShareGroupDescribe:           "ShareGroupDescribe",
	ShareFetch:                   "ShareFetch",
	ShareAcknowledge:             "ShareAcknowledge",
	AddRaftVoter:                 "AddRaftVoter",
	RemoveRaftVoter:              "RemoveRaftVoter",
	UpdateRaftVoter:              "UpdateRaftVoter",
	InitializeShareGroupState:    "InitializeShareGroupState",
	ReadShareGroupState:          "ReadShareGroupState",
	WriteShareGroupState:         "WriteShareGroupState",
	DeleteShareGroupState:        "DeleteShareGroupState",
	ReadShareGroupStateSummary:   "ReadShareGroupStateSummary",
	StreamsGroupHeartbeat:        "StreamsGroupHeartbeat",
	StreamsGroupDescribe:         "StreamsGroupDescribe",
	DescribeShareGroupOffsets:    "DescribeShareGroupOffsets",
	AlterShareGroupOffsets:       "AlterShareGroupOffsets",
	DeleteShareGroupOffsets:      "DeleteShareGroupOffsets",
}

// String returns the name Kafka gives the key ("Produce", "ApiVersions"), or "Key(N)" for a
// key this package does not know.
func (k Key) String() string {
	if k >= 0 && int(k) < len(keyNames) {
		return keyNames[k]
	}
	return "Key(" + strconv.Itoa(int(k)) + ")"
}
