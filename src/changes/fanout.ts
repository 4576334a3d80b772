import type { Fanout } from '../delivery/types.ts'
import { changeFanout } from './ticket-updates.ts'

/** Change events that update a change's PSA ticket, as deliveries (`change_ticket`); see ticket-updates.ts. */
export const changeTicketFanout: Fanout = changeFanout
