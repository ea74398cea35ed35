// The demo's business case, on each merchant's own test users: the federated
// model vs the merchant training alone vs a centralized model on pooled data
// (what they would get by pooling the behaviour data, which fedrec avoids).
import { evaluateModel, loadModel, trainCentralized, type CentralizedConfig, type LocalData, type ModelName } from './deps.ts';

export interface CaseRow {
  merchant: string;
  users: number;
  federated: number;
  alone: number;
  pooled: number;
}

export interface BusinessCaseOptions {
  model: ModelName;
  epochs: number;
  lr: number;
  batchSize: number;
  seed: number;
  log: (line: string) => void;
}

function cfg(o: BusinessCaseOptions): CentralizedConfig {
  return { model: o.model, modelConfig: {}, epochs: o.epochs, batchSize: o.batchSize, lr: o.lr, patience: 3, seed: o.seed };
}

export async function businessCase(
  merchants: Array<{ id: string; data: LocalData }>,
  finalModel: Uint8Array,
  numItems: number,
  o: BusinessCaseOptions,
): Promise<CaseRow[]> {
  const { model: fed } = loadModel(finalModel);
  const rows: CaseRow[] = merchants.map((m) => ({ merchant: m.id, users: m.data.test.length, federated: 0, alone: 0, pooled: 0 }));
  for (const [i, m] of merchants.entries()) {
    rows[i].federated = (await evaluateModel(fed, m.data.test, numItems))['ndcg@10'];
  }
  fed.dispose();
  for (const [i, m] of merchants.entries()) {
    o.log(`training ${m.id} alone (${m.data.train.length} users, up to ${o.epochs} epochs)...`);
    const r = await trainCentralized({ train: m.data.train, valid: m.data.valid, test: m.data.test }, numItems, cfg(o));
    rows[i].alone = (await evaluateModel(r.model, m.data.test, numItems))['ndcg@10'];
    r.model.dispose();
  }
  const pooled = {
    train: merchants.flatMap((m) => m.data.train),
    valid: merchants.flatMap((m) => m.data.valid),
    test: merchants.flatMap((m) => m.data.test),
  };
  o.log(`training one model on the pooled data of all merchants (${pooled.train.length} users)...`);
  const c = await trainCentralized(pooled, numItems, cfg(o));
  for (const [i, m] of merchants.entries()) rows[i].pooled = (await evaluateModel(c.model, m.data.test, numItems))['ndcg@10'];
  c.model.dispose();
  return rows;
}
