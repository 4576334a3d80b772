import { decodeCursor, encodeCursor } from '../shared/cursor.ts'
import { arr, expectObject, obj, str } from '../shared/json.ts'
import { type CallOptions, hasNextPage, namedRefs } from '../shared/psa.ts'
import type {
  ChangeManagementOperations,
  ChangeTicketInfo,
  ConnectorEnv,
  NamedRef,
  PsaConfiguration,
} from '../types.ts'
import { VendorError } from '../vendor-error.ts'

type Call<C> = <T = unknown>(
  creds: C,
  env: ConnectorEnv,
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
  path: string,
  opts?: CallOptions,
) => Promise<{ data: T; headers: Record<string, string> }>

const VENDOR = 'ConnectWise'
const PAGE_SIZE = 25
const LIST_SIZE = 1000

/** A value inside a conditions string: double-quoted, with quotes and backslashes escaped. */
function quoted(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`
}

/** `like` takes `%` as the wildcard; a `%` or `_` the user typed is matched literally by bracketing it. */
function likeValue(value: string): string {
  return quoted(`%${value.replace(/[%_[]/g, '[$&]')}%`)
}

/** Only integers go into `in (…)` and `id=` conditions; anything else is a caller error, not a query. */
function ids(values: string[]): string {
  for (const v of values) if (!/^\d+$/.test(v)) throw new VendorError(`${VENDOR}: "${v}" is not an id`, 400)
  return values.join(',')
}

/** ConnectWise dates are UTC to the second (`2026-02-18T12:00:00Z`). */
function cwTime(d: Date): string {
  return `${d.toISOString().slice(0, 19)}Z`
}

/**
 * Change management against ConnectWise PSA REST 3.0, following the vendor's models (MODELS.md in the vendor
 * document set): notes are ServiceNotes (`internalAnalysisFlag` = technicians only), status moves are JSON Patch
 * (`[{op, path, value}]`, https://developer.connectwise.com/Best_Practices/PSA_Patch_Requests), schedule entries
 * are ScheduleEntry (`type` required; `S` = service ticket, `objectId` = the ticket), time entries are TimeEntry
 * (`timeStart` required, charged to the ticket through `chargeToId`/`chargeToType`).
 */
export function changeManagement<C>(
  call: Call<C>,
  ticketUrl: (creds: C, id: string | number) => string,
): ChangeManagementOperations<C> {
  function toInfo(creds: C, data: unknown): ChangeTicketInfo {
    const t = expectObject(VENDOR, data, 'a ticket')
    const id = str(t.id)
    if (!id) throw new VendorError(`${VENDOR} answered with a ticket without an id`, 502)
    return {
      id,
      number: id,
      summary: str(t.summary) ?? '',
      status: str(obj(t.status)?.name) ?? 'unknown',
      boardId: str(obj(t.board)?.id) ?? '',
      boardName: str(obj(t.board)?.name) ?? '',
      companyId: str(obj(t.company)?.id) ?? '',
      closed: t.closedFlag === true,
      url: ticketUrl(creds, id),
    }
  }

  async function note(creds: C, env: ConnectorEnv, ticketId: string, body: Record<string, unknown>) {
    await call(creds, env, 'POST', `/service/tickets/${encodeURIComponent(ticketId)}/notes`, {
      body: { ...body, processNotifications: false },
    })
  }

  return {
    async searchCompanies(creds, q, env) {
      const page = decodeCursor<{ page: number }>(VENDOR, q.cursor)?.page ?? 1
      const text = q.q?.trim()
      const res = await call<unknown[]>(creds, env, 'GET', '/company/companies', {
        query: {
          conditions: `deletedFlag=false${text ? ` and (name like ${likeValue(text)} or identifier like ${likeValue(text)})` : ''}`,
          orderBy: 'name asc',
          fields: 'id,identifier,name',
          page,
          pageSize: PAGE_SIZE,
        },
      })
      const items = arr(res.data).flatMap((c): NamedRef[] => {
        const o = obj(c)
        const id = str(o?.id)
        return id ? [{ id, name: str(o?.name) ?? str(o?.identifier) ?? id }] : []
      })
      return {
        items,
        next: hasNextPage(res.headers, items.length, PAGE_SIZE)
          ? encodeCursor({ page: page + 1 })
          : undefined,
      }
    },

    async listBoards(creds, env) {
      const res = await call<unknown[]>(creds, env, 'GET', '/service/boards', {
        query: {
          conditions: 'inactiveFlag=false',
          orderBy: 'name asc',
          fields: 'id,name',
          pageSize: LIST_SIZE,
        },
      })
      return namedRefs(arr(res.data))
    },

    async boardStatuses(creds, boardId, env) {
      // Statuses belong to a board: GET /service/boards/{parentId}/statuses.
      const res = await call<unknown[]>(
        creds,
        env,
        'GET',
        `/service/boards/${encodeURIComponent(boardId)}/statuses`,
        { query: { orderBy: 'sortOrder asc', fields: 'id,name', pageSize: LIST_SIZE } },
      )
      return namedRefs(arr(res.data))
    },

    async searchTickets(creds, q, env) {
      const page = decodeCursor<{ page: number }>(VENDOR, q.cursor)?.page ?? 1
      const parts = [`company/id=${ids([q.companyId])}`, 'closedFlag=false']
      if (q.boardIds.length) parts.push(`board/id in (${ids(q.boardIds)})`)
      const text = q.q?.trim()
      if (text) {
        parts.push(
          /^\d+$/.test(text)
            ? `(id=${text} or summary like ${likeValue(text)})`
            : `summary like ${likeValue(text)}`,
        )
      }
      const res = await call<unknown[]>(creds, env, 'GET', '/service/tickets', {
        query: {
          conditions: parts.join(' and '),
          orderBy: 'id desc',
          fields: 'id,summary,status,board,company,closedFlag',
          page,
          pageSize: PAGE_SIZE,
        },
      })
      const items = arr(res.data).map((t) => toInfo(creds, t))
      return {
        items,
        next: hasNextPage(res.headers, items.length, PAGE_SIZE)
          ? encodeCursor({ page: page + 1 })
          : undefined,
      }
    },

    async getTicket(creds, id, env) {
      const res = await call(creds, env, 'GET', `/service/tickets/${encodeURIComponent(id)}`)
      return toInfo(creds, res.data)
    },

    async addInternalNote(creds, ticketId, text, env) {
      await note(creds, env, ticketId, {
        text,
        internalAnalysisFlag: true,
        detailDescriptionFlag: false,
        resolutionFlag: false,
      })
    },

    async hasNote(creds, ticketId, text, since, env) {
      // Notes have no condition on their text: the newest page, compared here (a note whose answer was lost is
      // among the newest). ConnectWise may store line breaks as CRLF and trims; a note without a readable date
      // counts as recent (better one note missing than the same note twice).
      const res = await call<unknown[]>(
        creds,
        env,
        'GET',
        `/service/tickets/${encodeURIComponent(ticketId)}/notes`,
        { query: { orderBy: 'id desc', fields: 'id,text,dateCreated', pageSize: LIST_SIZE } },
      )
      const norm = (t: string) => t.replace(/\r\n/g, '\n').trim()
      return arr(res.data).some((n) => {
        const o = obj(n)
        const at = Date.parse(str(o?.dateCreated) ?? '')
        return norm(str(o?.text) ?? '') === norm(text) && !(at < since.getTime())
      })
    },

    async setDetailedDescription(creds, ticketId, text, env) {
      // A ticket's "Detailed Description" is its notes with detailDescriptionFlag; the Ticket model has no
      // writable description after creation (initialDescription is POST-only).
      await note(creds, env, ticketId, {
        text,
        detailDescriptionFlag: true,
        internalAnalysisFlag: false,
        resolutionFlag: false,
      })
    },

    async setStatus(creds, ticketId, statusId, env) {
      await call(creds, env, 'PATCH', `/service/tickets/${encodeURIComponent(ticketId)}`, {
        body: [{ op: 'replace', path: 'status/id', value: Number(ids([statusId])) }],
      })
    },

    async findMember(creds, email, env) {
      const res = await call<unknown[]>(creds, env, 'GET', '/system/members', {
        query: {
          conditions: `inactiveFlag=false and (officeEmail=${quoted(email)} or primaryEmail=${quoted(email)})`,
          fields: 'id,identifier,firstName,lastName,officeEmail,primaryEmail',
          pageSize: 1,
        },
      })
      const m = obj(arr(res.data)[0])
      const id = str(m?.id)
      if (!m || !id) return undefined
      return {
        id,
        identifier: str(m.identifier) ?? id,
        name: [str(m.firstName), str(m.lastName)].filter(Boolean).join(' ') || (str(m.identifier) ?? id),
        email: str(m.officeEmail) ?? str(m.primaryEmail) ?? email,
      }
    },

    async addScheduleEntry(creds, e, env) {
      await call(creds, env, 'POST', '/schedule/entries', {
        body: {
          objectId: Number(ids([e.ticketId])),
          type: { identifier: 'S' },
          member: { id: Number(ids([e.memberId])) },
          dateStart: cwTime(e.start),
          dateEnd: cwTime(e.end),
          name: e.name.slice(0, 250),
          allowScheduleConflictsFlag: true,
        },
      })
    },

    async hasScheduleEntry(creds, e, env) {
      const res = await call<unknown[]>(creds, env, 'GET', '/schedule/entries', {
        query: {
          conditions: `objectId=${ids([e.ticketId])} and member/id=${ids([e.memberId])} and dateStart=[${cwTime(e.start)}]`,
          fields: 'id,name',
          pageSize: LIST_SIZE,
        },
      })
      return arr(res.data).some((x) => str(obj(x)?.name) === e.name.slice(0, 250))
    },

    async addTimeEntry(creds, e, env) {
      const res = await call(creds, env, 'POST', '/time/entries', {
        body: {
          chargeToId: Number(ids([e.ticketId])),
          chargeToType: 'ServiceTicket',
          member: { id: Number(ids([e.memberId])) },
          timeStart: cwTime(e.start),
          ...(e.end ? { timeEnd: cwTime(e.end) } : {}),
          notes: e.notes,
        },
      })
      const id = str(expectObject(VENDOR, res.data, 'a time entry').id)
      if (!id) throw new VendorError(`${VENDOR} created the time entry but answered without its id`, 502)
      return { id }
    },

    async listConfigurationTypes(creds, env) {
      const res = await call<unknown[]>(creds, env, 'GET', '/company/configurations/types', {
        query: {
          conditions: 'inactiveFlag=false',
          orderBy: 'name asc',
          fields: 'id,name',
          pageSize: LIST_SIZE,
        },
      })
      return namedRefs(arr(res.data))
    },

    async listConfigurations(creds, q, env) {
      const page = decodeCursor<{ page: number }>(VENDOR, q.cursor)?.page ?? 1
      const res = await call<unknown[]>(creds, env, 'GET', '/company/configurations', {
        query: {
          conditions: `company/id=${ids([q.companyId])} and activeFlag=true${q.typeIds.length ? ` and type/id in (${ids(q.typeIds)})` : ''}`,
          orderBy: 'id asc',
          fields: 'id,name,type,company',
          page,
          pageSize: PAGE_SIZE,
        },
      })
      const items = arr(res.data).flatMap((c): PsaConfiguration[] => {
        const o = obj(c)
        const id = str(o?.id)
        const name = str(o?.name)
        if (!o || !id || !name) return []
        return [
          {
            id,
            name,
            typeId: str(obj(o.type)?.id) ?? '',
            typeName: str(obj(o.type)?.name) ?? '',
            companyId: str(obj(o.company)?.id) ?? '',
          },
        ]
      })
      return {
        items,
        next: hasNextPage(res.headers, items.length, PAGE_SIZE)
          ? encodeCursor({ page: page + 1 })
          : undefined,
      }
    },

    async attachConfigurations(creds, ticketId, configurationIds, env) {
      // POST /service/tickets/{parentId}/configurations takes one ConfigurationReference ({id}) per call; a
      // configuration already attached answers 400 "already exists", which is what we wanted.
      for (const id of configurationIds) {
        try {
          await call(creds, env, 'POST', `/service/tickets/${encodeURIComponent(ticketId)}/configurations`, {
            body: { id: Number(ids([id])) },
          })
        } catch (err) {
          if (err instanceof VendorError && err.status === 400 && /already/i.test(err.message)) continue
          throw err
        }
      }
    },

    timeEntryUrl(creds, ticketId) {
      return ticketUrl(creds, ticketId)
    },
  }
}
