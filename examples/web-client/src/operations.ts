// The operations a task-list frontend needs, typed by codegen from
// schema.graphql (`npm run codegen` writes src/gql/).
import { graphql } from "./gql/index.js";

export const Signup = graphql(`
  mutation Signup($input: SignupInput!) {
    signup(input: $input) { id email createdAt }
  }
`);

export const Login = graphql(`
  mutation Login($input: LoginInput!) {
    login(input: $input) { accessToken refreshToken expiresIn user { id email } }
  }
`);

export const Refresh = graphql(`
  mutation Refresh($refreshToken: String!) {
    refreshToken(refreshToken: $refreshToken) { accessToken refreshToken expiresIn }
  }
`);

export const Me = graphql(`
  query Me { me { id email } }
`);

export const TaskFields = graphql(`
  fragment TaskFields on Task { id title description completed dueAt updatedAt }
`);

export const Tasks = graphql(`
  query Tasks($first: Int, $after: String, $filter: TaskFilter, $orderBy: TaskOrder) {
    tasks(first: $first, after: $after, filter: $filter, orderBy: $orderBy) {
      totalCount
      edges { cursor node { ...TaskFields } }
      pageInfo { hasNextPage endCursor }
    }
  }
`);

export const CreateTask = graphql(`
  mutation CreateTask($input: CreateTaskInput!) {
    createTask(input: $input) { ...TaskFields }
  }
`);

export const UpdateTask = graphql(`
  mutation UpdateTask($id: ID!, $input: UpdateTaskInput!) {
    updateTask(id: $id, input: $input) { ...TaskFields }
  }
`);

export const DeleteTask = graphql(`
  mutation DeleteTask($id: ID!) { deleteTask(id: $id) }
`);

export const TaskEvents = graphql(`
  subscription TaskEvents {
    taskEvents { kind taskId task { ...TaskFields } }
  }
`);

export const Sessions = graphql(`
  query Sessions { sessions { id createdAt lastUsedAt userAgent ip current } }
`);

export const RevokeSession = graphql(`
  mutation RevokeSession($id: ID!) { revokeSession(id: $id) }
`);

export const RevokeOtherSessions = graphql(`
  mutation RevokeOtherSessions { revokeOtherSessions }
`);

export const CompleteLogin = graphql(`
  mutation CompleteLogin($input: CompleteLoginInput!) {
    completeLogin(input: $input) { accessToken refreshToken expiresIn user { id email } }
  }
`);

export const TwoFactor = graphql(`
  query TwoFactor { twoFactor { totp recoveryCodesLeft } }
`);

export const StartTotpSetup = graphql(`
  mutation StartTotpSetup { startTotpSetup { secret otpauthUri qrCodeSvg } }
`);

export const ConfirmTotpSetup = graphql(`
  mutation ConfirmTotpSetup($code: String!) { confirmTotpSetup(code: $code) }
`);

export const VerifyEmail = graphql(`
  mutation VerifyEmail($token: String!) { verifyEmail(token: $token) }
`);

export const CreateList = graphql(`
  mutation CreateList($input: CreateListInput!) { createList(input: $input) { id name role } }
`);

export const InviteToList = graphql(`
  mutation InviteToList($input: InviteToListInput!) {
    inviteToList(input: $input) { id listName email role expiresAt }
  }
`);

export const AcceptInvitation = graphql(`
  mutation AcceptInvitation($input: AcceptInvitationInput!) {
    acceptInvitation(input: $input) { id name role }
  }
`);

export const Lists = graphql(`
  query Lists {
    lists {
      id name inbox role
      members { person { id displayName } role }
      tasks(first: 20) { totalCount edges { node { id title createdBy { displayName } } } }
    }
  }
`);

export const MoveTask = graphql(`
  mutation MoveTask($input: MoveTaskInput!) { moveTask(input: $input) { id position } }
`);

export const AddComment = graphql(`
  mutation AddComment($input: AddCommentInput!) {
    addComment(input: $input) { id body author { displayName } }
  }
`);

export const ListInOrder = graphql(`
  query ListInOrder($id: ID!) {
    list(id: $id) {
      tasks(first: 20, orderBy: { field: POSITION, direction: ASC }, filter: { topLevelOnly: true }) {
        edges {
          node {
            title position
            subtasks(first: 10) { edges { node { title commentCount } } }
          }
        }
      }
    }
  }
`);

// An offline copy: everything the first time, then what changed since the
// cursor kept with the copy.
export const Sync = graphql(`
  query Sync($since: String, $first: Int) {
    changes(since: $since, first: $first) {
      lists { id name role }
      tasks { ...TaskFields version list { id } }
      removedListIds
      removedTaskIds
      cursor
      hasMore
    }
  }
`);

export const UpdateTaskAt = graphql(`
  mutation UpdateTaskAt($id: ID!, $input: UpdateTaskInput!) {
    updateTask(id: $id, input: $input) { ...TaskFields version }
  }
`);
