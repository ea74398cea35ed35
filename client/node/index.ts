// client/node/: a merchant's Node client (its event files and the socket.io transport).
export { loadLocalData, type LocalDataOptions } from './data.ts';
export type { LocalData } from '../core.ts';
export { SocketClient, fetchModel, type SocketClientOptions } from './socketClient.ts';
